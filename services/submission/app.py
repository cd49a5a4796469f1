"""HTTP entrypoint of the submission service; the lifespan is its composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.submission.adapters.migrations import migrate
from services.submission.adapters.relay import OutboxRelay
from services.submission.api import campaigns, initiatives, tokens, units
from services.submission.api.deps import registration_buckets
from services.submission.api.errors import install_error_handlers
from services.submission.api.limits import BodySizeLimit
from services.submission.service.unit_of_work import UnitOfWork
from shared.clock import clock_from_settings
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
        if settings.submission_migrate_on_start:
            await migrate(settings.submission_database_url)
        engine = create_engine(settings.submission_database_url)
        relay = OutboxRelay(engine, settings)
        app.state.engine, app.state.relay = engine, relay
        app.state.uow = UnitOfWork(engine, on_events_committed=relay.wake)
        app.state.dependencies = [
            database_dependency(engine),
            # Not required: submissions wait in the outbox and are published when Kafka is back.
            kafka_dependency(settings, required=False),
        ]
        relay_task = asyncio.create_task(relay.run()) if settings.submission_relay_enabled else None
        log.info("service.started", port=settings.submission_port, relay=relay_task is not None)
        try:
            yield
        finally:
            if relay_task is not None:
                await relay.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
            await engine.dispose()
            log.info("service.stopped")

    app = build_app(
        service="submission",
        title="Sáng kiến — submission",
        description="Registry of unions, campaigns and targets; registration and review of "
        "initiatives. Every change is stored, then published to Kafka through an outbox. "
        "Authenticate with `Authorization: Bearer <token>`; send `Idempotency-Key` to make a "
        "retried write safe.",
        settings=settings,
        lifespan=lifespan,
        error_statuses=(400, 401, 403, 409, 415, 429, 503),
        max_body_bytes=None,  # BodySizeLimit below: uploads get a larger limit
    )
    app.state.clock = clock_from_settings(settings)
    app.state.registration_buckets = registration_buckets(settings)
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_body=settings.submission_max_body_bytes,
        max_upload=settings.submission_max_upload_bytes,
    )
    for module in (units, campaigns, initiatives, tokens):
        app.include_router(module.router)
    return app
