"""/campaigns/{campaign}/units/{unit}/…: real-time progress, answered from Redis.

Progress is not personal data: these reads need no token (authors appear nowhere here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic_core import to_json

from services.scoring import queries
from shared.clock import Clock
from shared.counters import read_unit

router = APIRouter(prefix="/campaigns/{campaign_id}/units/{unit_id}", tags=["progress"])


def _redis(request: Request) -> Any:
    return request.app.state.redis


def _now(request: Request) -> datetime:
    """The campaign clock's now: what "expected today" is measured at."""
    clock: Clock = request.app.state.clock
    return clock.now()


def _unknown(campaign_id: str) -> JSONResponse:
    return _not_found("campaign_id", f"no campaign {campaign_id!r}")


def _unknown_unit(campaign_id: str, unit_id: str) -> JSONResponse:
    return _not_found("unit_id", f"no unit {unit_id!r} in campaign {campaign_id!r}")


def _not_found(field: str, message: str) -> JSONResponse:
    problem = {"field": field, "rule": "exists", "message": message}
    return JSONResponse(
        {"error": "not_found", "message": problem["message"], "problems": [problem]},
        status_code=404,
    )


@router.get("/progress")
async def unit_progress(campaign_id: str, unit_id: str, request: Request) -> Any:
    """Counted, registered, under review, valid, rejected, percentage of the unit's own target,
    expected percentage today, pace, projected total, distinct people, benefit, backlog."""
    try:
        # The busiest route: serialised by pydantic-core, a third of FastAPI's generic encoder.
        return _json(
            await queries.unit_progress(_redis(request), campaign_id, unit_id, at=_now(request))
        )
    except queries.UnknownCampaign:
        return _unknown(campaign_id)
    except queries.UnknownUnit:
        return _unknown_unit(campaign_id, unit_id)


def _json(content: Any) -> Response:
    return Response(to_json(content), media_type="application/json")


@router.get("/children")
async def children(campaign_id: str, unit_id: str, request: Request) -> Any:
    """The unit's children, ranked by percentage of their own targets."""
    try:
        return {
            "items": await queries.children_ranked(
                _redis(request), campaign_id, unit_id, at=_now(request)
            )
        }
    except queries.UnknownCampaign:
        return _unknown(campaign_id)


@router.get("/series")
async def series(
    campaign_id: str,
    unit_id: str,
    request: Request,
    period: Annotated[Literal["day", "week"], Query()] = "day",
) -> Any:
    """Registrations per campaign-local day or ISO week."""
    return {
        "period": period,
        "counts": await queries.series(_redis(request), campaign_id, unit_id, period),
    }


@router.get("/breakdown")
async def breakdown(campaign_id: str, unit_id: str, request: Request) -> Any:
    """Registered and valid initiatives by field and by author category."""
    return await queries.breakdown(_redis(request), campaign_id, unit_id)


@router.get("/burnup")
async def burnup(campaign_id: str, unit_id: str, request: Request) -> Any:
    """Per campaign day: registrations so far (``actual``), the pace model's count
    (``expected``) and the rate since the start carried on (``projected``); with the target,
    the count and both projected totals. The daily counters keep registrations: where the
    campaign counts valid initiatives, only ``counted`` is of valid ones."""
    try:
        return await queries.unit_burnup(_redis(request), campaign_id, unit_id, at=_now(request))
    except queries.UnknownCampaign:
        return _unknown(campaign_id)
    except queries.UnknownUnit:
        return _unknown_unit(campaign_id, unit_id)


@router.get("/backlog")
async def backlog(campaign_id: str, unit_id: str, request: Request) -> Any:
    """How many initiatives wait for review in the subtree, the day the oldest was submitted,
    and how many were submitted each day."""
    counters = await read_unit(_redis(request), campaign_id, unit_id)
    return queries.backlog(counters)


totals_router = APIRouter(tags=["progress"])


@totals_router.get("/campaigns")
async def campaigns(request: Request) -> Any:
    """The campaigns scoring knows, the latest start first, with their organising units."""
    return {"items": await queries.campaigns(_redis(request))}


@totals_router.get("/campaigns/{campaign_id}/totals")
async def campaign_totals(campaign_id: str, request: Request) -> Any:
    """The campaign's totals: the progress of the unit that organises it."""
    try:
        organiser = await queries.organiser(_redis(request), campaign_id)
        return await queries.unit_progress(
            _redis(request), campaign_id, organiser, at=_now(request)
        )
    except queries.UnknownCampaign:
        return _unknown(campaign_id)
    except queries.UnknownUnit:  # the campaign arrived before its organiser's record
        return _unknown_unit(campaign_id, organiser)
