"""HTTP entrypoint of the submission service; the lifespan is its composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from shared.database import check_database, create_engine
from shared.kafka import check_kafka
from shared.logging import get_logger
from shared.observability import DependencyCheck
from shared.service_app import build_app
from shared.settings import SubmissionSettings

log = get_logger(__name__)


def create_app(settings: SubmissionSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or SubmissionSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(settings.submission_database_url)
        log.info("service.started", port=settings.submission_port)
        try:
            yield
        finally:
            await app.state.engine.dispose()
            log.info("service.stopped")

    def checks(request: Request) -> list[DependencyCheck]:
        timeout = settings.readiness_timeout_seconds
        return [
            DependencyCheck("database", lambda: check_database(request.app.state.engine)),
            # Not required: submissions are stored in the outbox and published when Kafka is back.
            DependencyCheck(
                "kafka", lambda: check_kafka(settings.kafka_servers, timeout=timeout), False
            ),
        ]

    return build_app(
        service="submission",
        title="Sáng kiến — submission",
        description="Registry of unions, campaigns and targets; registration and review of "
        "initiatives. Every change is stored, then published to Kafka through an outbox.",
        settings=settings,
        lifespan=lifespan,
        checks=checks,
    )
