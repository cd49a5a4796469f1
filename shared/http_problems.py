"""One error format for every service, documented in each OpenAPI; the body-size and
content-type guards.

Every 4xx (and 503) answers with

    {"error": "invalid_input", "message": "...",
     "problems": [{"field": "title", "rule": "string_too_long", "message": "..."}]}

so a client, the CLI and the dashboard read errors of the three services the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import get_logger

log = get_logger(__name__)

ERROR_SCHEMA = "ErrorResponse"
ERROR_DESCRIPTIONS = {
    400: "The body cannot be read (not JSON, not UTF-8)",
    401: "No valid bearer token",
    403: "Outside the caller's role or scope",
    404: "No such resource",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "The request body is over the limit",
    415: "Unsupported Content-Type",
    422: "Invalid input, each problem naming its field",
    429: "Too many requests",
    503: "Not ready yet, or a service it depends on did not answer",
}
FASTAPI_PARSE_ERROR = "There was an error parsing the body"
DATABASE_BUSY = "the database is busy or unavailable: nothing was stored; send it again shortly"
# Every route can answer these: no such path or method, a body over the limit, bad input.
COMMON_ERRORS = (404, 405, 413, 422)


class ErrorProblem(BaseModel):
    """One thing wrong with a request: the field, the rule it broke, and a message."""

    field: str
    rule: str
    message: str
    row: int | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: str
    message: str
    problems: list[ErrorProblem]


def problem_json(error: str, problems: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """An error body from problems given as ``{"field", "rule", "message"[, "row"]}``."""
    listed = list(problems)
    message = "; ".join(f"{p['field']}: {p['message']}" for p in listed) or error
    return {"error": error, "message": message, "problems": listed}


def problem_response(
    status_code: int, error: str, field: str, rule: str, message: str
) -> JSONResponse:
    """A JSON error response naming one field."""
    body = problem_json(error, [{"field": field, "rule": rule, "message": message}])
    return JSONResponse(body, status_code=status_code)


def validation_problems(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as problems with dotted field paths (``authors.0.name``)."""
    problems = []
    for error in errors:
        if error.get("type") == "json_invalid":  # located at a character offset, not a field
            message = f"the body is not valid JSON: {error.get('msg')}"
            problems.append({"field": "body", "rule": "json", "message": message})
            continue
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in ("body", "query", "path", "header"):
            location = location[1:]
        problems.append(
            {
                "field": ".".join(location) or "body",
                "rule": str(error.get("type", "invalid")),
                "message": str(error.get("msg", "invalid")),
            }
        )
    return problems


def install_problem_handlers(app: FastAPI) -> None:
    """Validation errors and HTTP errors as :class:`ErrorResponse` bodies."""

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = problem_json("invalid_input", validation_problems(exc.errors()))
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return await http_error_response(request, exc)

    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
        # SQLite busy past its timeout, a connection to PostgreSQL lost: the transaction did
        # not commit, so the client may send the same request again (its Idempotency-Key
        # kept). Any other database error is a bug and stays a 500.
        if not database_busy_or_gone(exc):
            raise exc
        # The driver's message only: the statement's parameters may hold personal data.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "unavailable"
        log.warning("database.unavailable", path=request.url.path, reason=reason)
        problem = {"field": "database", "rule": "available", "message": DATABASE_BUSY}
        return JSONResponse(
            problem_json("database_unavailable", [problem]),
            status_code=503,
            headers={"Retry-After": "1"},
        )


def database_busy_or_gone(error: DBAPIError) -> bool:
    """Whether a database error means "try again shortly": SQLite's write lock held past the
    busy timeout, or a connection that broke (the server restarted or went away)."""
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    return isinstance(error, OperationalError) and ("locked" in text or "busy" in text)


async def http_error_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """An HTTP error as an :class:`ErrorResponse`; a body FastAPI could not parse is named."""
    if exc.status_code == 400 and exc.detail == FASTAPI_PARSE_ERROR:
        body = problem_json("invalid_body", [await _unreadable_body(request)])
        return JSONResponse(body, status_code=400)
    field = "path" if exc.status_code in (404, 405) else "request"
    body = problem_json(
        f"http_{exc.status_code}",
        [{"field": field, "rule": f"http_{exc.status_code}", "message": str(exc.detail)}],
    )
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unreadable_body(request: Request) -> dict[str, Any]:
    # FastAPI says only "There was an error parsing the body"; the body (already read, and
    # cached on the request) tells which: its bytes are not UTF-8, or they are not JSON.
    content = await request.body()
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as error:
        message = (
            f"the body is not UTF-8: byte 0x{content[error.start]:02X} at offset {error.start}"
        )
        return {"field": "body", "rule": "utf8", "message": message}
    return {"field": "body", "rule": "json", "message": "the body is not valid JSON"}


def document_errors(app: FastAPI, statuses: Iterable[int]) -> None:
    """Declare the error responses in the app's OpenAPI, with the body they really have.

    FastAPI documents 422 with its own ``{"detail": [...]}`` shape and nothing else; clients
    (and schemathesis) should see what the service answers.
    """
    declared = sorted({*COMMON_ERRORS, *statuses})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _add_errors(spec, declared)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_errors(spec: dict[str, Any], statuses: list[int]) -> None:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = ErrorResponse.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for name, definition in schemas[ERROR_SCHEMA].pop("$defs", {}).items():
        schemas[name] = definition
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses[str(status)] = {
                    "description": ERROR_DESCRIPTIONS.get(status, "Error"),
                    "content": content,
                }
            if path == "/readyz":  # a required dependency down: the same body, status 503
                responses["503"] = responses["200"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


class BodySizeLimit:
    """ASGI middleware: 413 for a body over the limit, declared or streamed.

    ``limit_for`` gives the limit of a path (uploads may get a larger one). A streamed body
    that goes over is answered at once; the app then sees the client gone, and whatever it
    tries to send afterwards is dropped.
    """

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit and not refused:
                refused = True
                await _too_large(send, limit)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:  # a disconnect the app raised because we cut it off is expected
                raise


class RequireJson:
    """ASGI middleware: 415 for a body that is not declared ``application/json``.

    For services whose every body is JSON: FastAPI would otherwise read a form or plain text
    as JSON anyway, or answer 422 about a "dictionary" without naming the Content-Type.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            has_body = headers.get(b"content-length", b"0") != b"0" or (
                b"transfer-encoding" in headers
            )
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            kind = content_type.decode("latin-1")  # a header's bytes need not be UTF-8
            if has_body and not (kind == "application/json" or kind.endswith("+json")):
                message = f"expected application/json, got {kind or 'none'}"
                body = problem_json(
                    "unsupported_media_type",
                    [{"field": "content-type", "rule": "accepted", "message": message}],
                )
                await JSONResponse(body, status_code=415)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _too_large(send: Send, limit: int) -> None:
    message = f"the request body is over the limit of {limit} bytes"
    body = problem_json(
        "payload_too_large", [{"field": "body", "rule": "max_size", "message": message}]
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
