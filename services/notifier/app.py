"""HTTP entrypoint of the notifier; the lifespan is its composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.database import create_engine
from shared.logging import get_logger
from shared.redis import create_redis
from shared.service_app import (
    build_app,
    database_dependency,
    kafka_dependency,
    redis_dependency,
)
from shared.settings import NotifierSettings

log = get_logger(__name__)


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or NotifierSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.notifier_database_url)
        redis = create_redis(settings.redis_url)
        app.state.engine, app.state.redis = engine, redis
        app.state.dependencies = [
            database_dependency(engine),
            redis_dependency(redis, settings),
            # Not required: email and webhooks still go out; the alerts topic catches up later.
            kafka_dependency(settings, required=False),
        ]
        log.info("service.started", port=settings.notifier_port)
        try:
            yield
        finally:
            await redis.aclose()
            await engine.dispose()
            log.info("service.stopped")

    return build_app(
        service="notifier",
        title="Sáng kiến — notifier",
        description="Lag alerts to union heads: grouped, repeated, resolved, escalated and "
        "silenced; by email, webhook and the Kafka alerts topic.",
        settings=settings,
        lifespan=lifespan,
    )
