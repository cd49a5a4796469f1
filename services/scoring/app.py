"""HTTP entrypoint of the scoring service; the lifespan is its composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.scoring.adapters.consumer import ScoringConsumer
from services.scoring.adapters.directory import UnitDirectory
from services.scoring.adapters.rankings import Rankings
from services.scoring.adapters.registry import RegistryReader
from services.scoring.api import dashboard, leaderboards, progress, stream
from shared.clock import clock_from_settings
from shared.logging import get_logger
from shared.redis import create_redis
from shared.service_app import build_app, kafka_dependency, redis_dependency, supervise
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
        # One directory of units per instance: the registry reader keeps it fresh.
        directory = UnitDirectory(redis)
        workers = (
            [
                ScoringConsumer(settings, redis, directory=directory),
                RegistryReader(settings, redis, Rankings(redis, directory)),
            ]
            if settings.scoring_consume
            else []
        )
        tasks = [asyncio.create_task(supervise(worker)) for worker in workers]
        log.info("service.started", port=settings.scoring_port, consuming=bool(workers))
        try:
            yield
        finally:
            for worker in workers:
                await worker.stop()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await redis.aclose()
            log.info("service.stopped")

    app = build_app(
        service="scoring",
        title="Sáng kiến — scoring",
        description="Per-union counters of initiatives, rolled up the union hierarchy, "
        "answered in real time from Redis.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.clock = clock_from_settings(settings)
    routers = (progress.router, progress.totals_router, leaderboards.router, stream.router)
    for router in (*routers, dashboard.router):
        app.include_router(router)
    return app
