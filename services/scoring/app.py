"""HTTP entrypoint of the scoring service; the lifespan is its composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from shared.kafka import check_kafka
from shared.logging import get_logger
from shared.observability import DependencyCheck
from shared.redis import check_redis, create_redis
from shared.service_app import build_app
from shared.settings import ScoringSettings

log = get_logger(__name__)


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or ScoringSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = create_redis(settings.redis_url)
        log.info("service.started", port=settings.scoring_port)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            log.info("service.stopped")

    def checks(request: Request) -> list[DependencyCheck]:
        timeout = settings.readiness_timeout_seconds
        return [
            DependencyCheck("redis", lambda: check_redis(request.app.state.redis, timeout=timeout)),
            # Not required: counters in Redis still answer queries while Kafka is away.
            DependencyCheck(
                "kafka", lambda: check_kafka(settings.kafka_servers, timeout=timeout), False
            ),
        ]

    return build_app(
        service="scoring",
        title="Sáng kiến — scoring",
        description="Per-union counters of initiatives, rolled up the union hierarchy, "
        "answered in real time from Redis.",
        settings=settings,
        lifespan=lifespan,
        checks=checks,
    )
