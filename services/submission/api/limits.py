"""Request size and content-type limits, checked before a body is parsed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.types import ASGIApp

from services.submission.api.errors import HTTPProblem
from services.submission.domain.errors import Problem
from shared.http_problems import BodySizeLimit as SharedBodySizeLimit

JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BodySizeLimit(SharedBodySizeLimit):
    """ASGI middleware: 413 for a body over the limit, declared or streamed.

    Uploads (paths ending in ``/import``) get their own, larger limit.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        super().__init__(
            app, limit_for=lambda path: max_upload if path.endswith("/import") else max_body
        )


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
