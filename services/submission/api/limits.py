"""Request size and content-type limits, checked before a body is parsed."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.submission.api.errors import HTTPProblem, problem_body
from services.submission.domain.errors import Problem

JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BodySizeLimit:
    """ASGI middleware: 413 for a body over the limit, declared or streamed.

    Uploads (paths ending in ``/import``) get their own, larger limit. A streamed body that
    goes over is answered at once; the app then sees the client gone, and whatever it tries to
    send afterwards is dropped.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if scope["path"].endswith("/import") else self.max_body
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


async def _too_large(send: Send, limit: int) -> None:
    body = problem_body(
        "payload_too_large",
        [Problem("body", "max_size", f"the request body is over the limit of {limit} bytes")],
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


def require_content_type(*accepted: str) -> Callable[[Request], None]:
    """A dependency refusing (415) a body whose Content-Type is not one of ``accepted``."""

    def check(request: Request) -> None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in accepted:
            raise HTTPProblem(
                415,
                "unsupported_media_type",
                Problem(
                    "content-type",
                    "accepted",
                    f"expected {' or '.join(accepted)}, got {content_type or 'none'}",
                ),
            )

    return check
