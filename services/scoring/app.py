"""HTTP entrypoint of the scoring service; the lifespan is its composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.logging import get_logger
from shared.redis import create_redis
from shared.service_app import build_app, kafka_dependency, redis_dependency
from shared.settings import ScoringSettings

log = get_logger(__name__)


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or ScoringSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis(settings.redis_url)
        app.state.redis = redis
        app.state.dependencies = [
            redis_dependency(redis, settings),
            # Not required: the counters in Redis still answer queries while Kafka is away.
            kafka_dependency(settings, required=False),
        ]
        log.info("service.started", port=settings.scoring_port)
        try:
            yield
        finally:
            await redis.aclose()
            log.info("service.stopped")

    return build_app(
        service="scoring",
        title="Sáng kiến — scoring",
        description="Per-union counters of initiatives, rolled up the union hierarchy, "
        "answered in real time from Redis.",
        settings=settings,
        lifespan=lifespan,
    )
