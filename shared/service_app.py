"""What every service's FastAPI app has: logging, health and metrics routes, request metrics,
and the readiness checks of the dependencies services share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.database import check_database
from shared.kafka.readiness import check_kafka
from shared.logging import configure_logging, get_logger
from shared.observability import DependencyCheck, health_router, instrument
from shared.redis import check_redis
from shared.settings import CommonSettings

log = get_logger(__name__)


def build_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: CommonSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> FastAPI:
    """A FastAPI app with structured logs, /healthz, /readyz and /metrics.

    The lifespan builds the clients and sets ``app.state.dependencies`` for /readyz.
    """
    configure_logging(settings, service=service)
    app = FastAPI(title=title, description=description, lifespan=lifespan)
    app.state.settings = settings
    app.state.dependencies = []
    instrument(app, service)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.include_router(health_router(service, timeout=settings.readiness_timeout_seconds))
    return app


def database_dependency(engine: AsyncEngine) -> DependencyCheck:
    """The SQL database answers ``SELECT 1`` (required)."""
    return DependencyCheck("database", lambda: check_database(engine))


def redis_dependency(redis: Redis, settings: CommonSettings) -> DependencyCheck:
    """Redis answers PING (required)."""
    timeout = settings.readiness_timeout_seconds
    return DependencyCheck("redis", lambda: check_redis(redis, timeout=timeout))


def kafka_dependency(settings: CommonSettings, *, required: bool) -> DependencyCheck:
    """Kafka answers a metadata request."""
    timeout = settings.readiness_timeout_seconds
    return DependencyCheck(
        "kafka", lambda: check_kafka(settings.kafka_servers, timeout=timeout), required
    )


class Worker(Protocol):
    """A service's background worker: runs until stopped."""

    async def run(self) -> None:
        """Work until stopped."""


async def supervise(worker: Worker) -> None:
    """Run a worker; if Kafka is not there yet or it fails, log and start it again."""
    delay = 1.0
    while True:
        try:
            await worker.run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "worker.failed", worker=type(worker).__name__, error=str(error), retry_in=delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
