"""What every service's FastAPI app has: logging, health and metrics routes, request metrics,
and the readiness checks of the dependencies services share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.database import check_database
from shared.http_problems import (
    BodySizeLimit,
    RequireJson,
    document_errors,
    install_problem_handlers,
)
from shared.kafka.readiness import check_kafka
from shared.logging import configure_logging, get_logger
from shared.observability import DependencyCheck, health_router, instrument
from shared.redis import check_redis
from shared.settings import CommonSettings

log = get_logger(__name__)
# The notifier's and scoring's bodies are a silence or nothing: 64 KiB is a hundred times one.
DEFAULT_MAX_BODY_BYTES = 65_536


def build_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: CommonSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    error_statuses: Iterable[int] = (),
    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    json_only: bool = False,
) -> FastAPI:
    """A FastAPI app with structured logs, /healthz, /readyz and /metrics.

    The lifespan builds the clients and sets ``app.state.dependencies`` for /readyz. Errors
    answer in one JSON shape, documented in the OpenAPI with ``error_statuses`` (beyond the
    404, 405, 413 and 422 every route can give); a body over ``max_body_bytes`` gets 413
    (None: the service installs a limit of its own); ``json_only``: any other body gets 415.
    """
    configure_logging(settings, service=service)
    app = FastAPI(title=title, description=description, lifespan=lifespan)
    app.state.settings = settings
    app.state.dependencies = []
    install_problem_handlers(app)
    document_errors(app, error_statuses)
    if json_only:
        app.add_middleware(RequireJson)
    if max_body_bytes is not None:
        limit = max_body_bytes
        app.add_middleware(BodySizeLimit, limit_for=lambda path: limit)
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
