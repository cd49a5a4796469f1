"""What every service's FastAPI app has: logging, health and metrics routes, request metrics,
and the readiness checks of the dependencies services share."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.database import check_database
from shared.kafka.readiness import check_kafka
from shared.logging import configure_logging
from shared.observability import DependencyCheck, health_router, instrument
from shared.redis import check_redis
from shared.settings import CommonSettings


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
