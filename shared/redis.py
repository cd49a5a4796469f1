"""Redis helpers: a client factory, Lua script registration and a readiness check."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def create_redis(url: str, *, socket_timeout: float = 5.0) -> Redis:
    """A Redis client for ``url`` that returns str (not started: it connects on first use)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=30,
    )


def register_script(redis: Redis, source: str) -> AsyncScript:
    """Register a Lua script; it is called by SHA and re-loaded after a Redis restart."""
    return redis.register_script(source)


async def check_redis(redis: Redis, *, timeout: float = 2.0) -> None:
    """Raise unless Redis answers PING within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        if not await redis.ping():
            raise ConnectionError("Redis did not answer PING")
