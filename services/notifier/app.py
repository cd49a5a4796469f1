"""HTTP entrypoint of the notifier; the lifespan is its composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from shared.database import check_database, create_engine
from shared.kafka import check_kafka
from shared.logging import get_logger
from shared.observability import DependencyCheck
from shared.redis import check_redis, create_redis
from shared.service_app import build_app
from shared.settings import NotifierSettings

log = get_logger(__name__)


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or NotifierSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(settings.notifier_database_url)
        app.state.redis = create_redis(settings.redis_url)
        log.info("service.started", port=settings.notifier_port)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.engine.dispose()
            log.info("service.stopped")

    def checks(request: Request) -> list[DependencyCheck]:
        timeout = settings.readiness_timeout_seconds
        return [
            DependencyCheck("database", lambda: check_database(request.app.state.engine)),
            DependencyCheck("redis", lambda: check_redis(request.app.state.redis, timeout=timeout)),
            # Not required: email and webhooks still go out; the alerts topic catches up later.
            DependencyCheck(
                "kafka", lambda: check_kafka(settings.kafka_servers, timeout=timeout), False
            ),
        ]

    return build_app(
        service="notifier",
        title="Sáng kiến — notifier",
        description="Lag alerts to union heads: grouped, repeated, resolved, escalated and "
        "silenced; by email, webhook and the Kafka alerts topic.",
        settings=settings,
        lifespan=lifespan,
        checks=checks,
    )
