"""/dashboard: the progress page for union heads, its static assets and its configuration.

The page is plain HTML, CSS and JavaScript from ``services/scoring/dashboard/`` (no build step,
nothing fetched from elsewhere). It reads this service's API from the same origin, and the
submission service (the initiatives behind a number, with the viewer's token) and the notifier
(the firing alerts) cross-origin, at the addresses ``/dashboard/config.json`` gives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from shared.settings import ScoringSettings

router = APIRouter(tags=["dashboard"])

ASSETS_DIR = Path(__file__).resolve().parent.parent / "dashboard"
# Only these files are served: a fixed list, so no path from a request ever reaches the disk.
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",  # the page: loading, tree, rankings, alerts
    "chart.js": "text/javascript; charset=utf-8",  # the burn-up chart
    "drilldown.js": "text/javascript; charset=utf-8",  # the initiatives behind a number
    "util.js": "text/javascript; charset=utf-8",  # labels, formats, DOM and HTTP helpers
    "style.css": "text/css; charset=utf-8",
}
# Revalidate every time (the ETag makes that a 304): a new release shows on the next load.
NO_CACHE = {"Cache-Control": "no-cache"}


def _settings(request: Request) -> ScoringSettings:
    settings: ScoringSettings = request.app.state.settings
    return settings


def _base(url: str | None) -> str | None:
    """An address without its trailing slash, so the page can append paths to it."""
    return url.rstrip("/") if url else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: ScoringSettings) -> str:
    """The page may load only its own files and call only this service, the submission
    service and the notifier: it keeps a bearer token, so no other script may run beside it."""
    others = [
        _origin(url)
        for url in (
            settings.scoring_dashboard_submission_url,
            settings.scoring_dashboard_notifier_url,
        )
        if url
    ]
    return "; ".join(
        (
            "default-src 'self'",
            " ".join(["connect-src 'self'", *others]),
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


@router.get("/dashboard", include_in_schema=False)
async def page(request: Request) -> FileResponse:
    """The page; ``?campaign=<id>&unit=<id>`` choose what it shows (default: the latest
    campaign and its organiser), ``#token=<token>`` hands it a token for the drill-down."""
    headers = {
        **NO_CACHE,
        "Content-Security-Policy": content_security_policy(_settings(request)),
        # The token arrives in the fragment, which is never sent; no referrer leaks the query.
        "Referrer-Policy": "no-referrer",
    }
    return FileResponse(
        ASSETS_DIR / "index.html", media_type="text/html; charset=utf-8", headers=headers
    )


@router.get("/dashboard/config.json")
async def config(request: Request) -> dict[str, Any]:
    """Where the page's browser reaches the submission service and the notifier (null: that
    part of the page is switched off)."""
    settings = _settings(request)
    return {
        "submission_url": _base(settings.scoring_dashboard_submission_url),
        "notifier_url": _base(settings.scoring_dashboard_notifier_url),
    }


@router.get("/dashboard/{asset}", include_in_schema=False)
async def asset(asset: str) -> FileResponse:
    """The page's script and style sheet."""
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise HTTPException(404, f"no dashboard file {asset!r}")
    return FileResponse(ASSETS_DIR / asset, media_type=media_type, headers=NO_CACHE)
