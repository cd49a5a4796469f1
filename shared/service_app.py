"""What every service's FastAPI app has: logging, health and metrics routes, request metrics."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI, Request

from shared.logging import configure_logging
from shared.observability import DependencyCheck, health_router, instrument
from shared.settings import CommonSettings


def build_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: CommonSettings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    checks: Callable[[Request], list[DependencyCheck]],
) -> FastAPI:
    """A FastAPI app with structured logs, /healthz, /readyz and /metrics."""
    configure_logging(settings, service=service)
    app = FastAPI(title=title, description=description, lifespan=lifespan)
    app.state.settings = settings
    instrument(app, service)
    app.include_router(health_router(service, checks, timeout=settings.readiness_timeout_seconds))
    return app
