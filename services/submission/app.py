"""HTTP entrypoint of the submission service; the lifespan is its composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.database import create_engine
from shared.logging import get_logger
from shared.service_app import build_app, database_dependency, kafka_dependency
from shared.settings import SubmissionSettings

log = get_logger(__name__)


def create_app(settings: SubmissionSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or SubmissionSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.submission_database_url)
        app.state.engine = engine
        app.state.dependencies = [
            database_dependency(engine),
            # Not required: submissions wait in the outbox and are published when Kafka is back.
            kafka_dependency(settings, required=False),
        ]
        log.info("service.started", port=settings.submission_port)
        try:
            yield
        finally:
            await engine.dispose()
            log.info("service.stopped")

    return build_app(
        service="submission",
        title="Sáng kiến — submission",
        description="Registry of unions, campaigns and targets; registration and review of "
        "initiatives. Every change is stored, then published to Kafka through an outbox.",
        settings=settings,
        lifespan=lifespan,
    )
