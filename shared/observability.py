"""/healthz, /readyz and /metrics, the same for every service.

Readiness runs each dependency check for real, concurrently, each under a timeout. A required
dependency that fails makes the service not ready (503); an optional one makes it "degraded"
(200), for instance Kafka for the submission service, which must keep taking submissions into
its outbox while Kafka is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)


@dataclass(frozen=True)
class DependencyCheck:
    """One dependency of a service: a name, a coroutine that raises when it is down."""

    name: str
    check: Callable[[], Awaitable[Any]]
    required: bool = True


async def _run_check(dependency: DependencyCheck, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await dependency.check()
    except Exception as error:
        reason = str(error) or type(error).__name__
        if isinstance(error, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        return {"ok": False, "required": dependency.required, "error": reason}
    return {
        "ok": True,
        "required": dependency.required,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def readiness(checks: list[DependencyCheck], timeout: float) -> tuple[int, dict[str, Any]]:
    """Run every check; return the HTTP status and a body naming each dependency's state."""
    results = await asyncio.gather(*(_run_check(c, timeout) for c in checks))
    by_name = {c.name: r for c, r in zip(checks, results, strict=True)}
    down = [name for name, r in by_name.items() if not r["ok"]]
    required_down = [name for name in down if by_name[name]["required"]]
    if required_down:
        status = "not_ready"
    elif down:
        status = "degraded"
    else:
        status = "ready"
    body = {"status": status, "down": down, "checks": by_name}
    return (503 if required_down else 200), body


def health_router(service: str, *, timeout: float) -> APIRouter:
    """The /healthz, /readyz and /metrics routes of a service.

    /readyz checks ``app.state.dependencies``, the list the service's lifespan declares.
    """
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="Readiness: every required dependency answers")
    async def readyz(request: Request) -> JSONResponse:
        status_code, body = await readiness(request.app.state.dependencies, timeout)
        return JSONResponse({"service": service, **body}, status_code=status_code)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def instrument(app: FastAPI, service: str) -> None:
    """Count and time every request by route template (not raw path, to bound label values)."""
    app.add_middleware(RequestMetrics, service=service)


class RequestMetrics:
    """Plain ASGI middleware: Starlette's @app.middleware("http") costs about half a
    millisecond a request, more than a progress query itself."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app raises before it answers

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            # The router puts the matched route into the same scope.
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(
                time.perf_counter() - started
            )
