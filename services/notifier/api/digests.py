"""Digests for the weekly and monthly meetings: a head's digest as of now (JSON or Excel), and
sending the period's digests now."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from services.notifier.adapters import repository
from services.notifier.adapters.digest_render import digest_json, period_json
from services.notifier.adapters.digest_workbook import CONTENT_TYPE, filename, workbook_bytes
from services.notifier.api.auth import PrincipalDep, require_root_admin, require_unit
from services.notifier.domain.digest import Digest, PeriodKind
from services.notifier.service.digests import (
    DigestService,
    NotARecipient,
    NotStarted,
    UnknownCampaign,
    UnknownUnit,
)

router = APIRouter(prefix="/campaigns/{campaign_id}", tags=["digests"])

Period = Annotated[PeriodKind, Query(description="week (ISO, Monday to Sunday) or month")]


@router.get("/units/{unit_id}/digest")
async def digest(
    campaign_id: str,
    unit_id: str,
    request: Request,
    principal: PrincipalDep,
    period: Period = PeriodKind.WEEK,
) -> Any:
    """The head's digest of the current week or month, as of the clock's now (not stored); for
    a token whose scope covers the unit."""
    require_unit(request, principal, unit_id)
    return digest_json(await _preview(request, campaign_id, unit_id, period))


@router.get("/units/{unit_id}/digest.xlsx", response_class=Response)
async def digest_workbook(
    campaign_id: str,
    unit_id: str,
    request: Request,
    principal: PrincipalDep,
    period: Period = PeriodKind.WEEK,
) -> Response:
    """The same digest as an Excel workbook: the ranking, laggards, no initiative, backlog."""
    require_unit(request, principal, unit_id)
    found = await _preview(request, campaign_id, unit_id, period)
    # openpyxl builds the file in a few ms for a few hundred units; off the event loop anyway.
    content = await asyncio.to_thread(workbook_bytes, found)
    return Response(
        content=content,
        media_type=CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename(found)}"'},
    )


@router.post("/digests")
async def send(
    campaign_id: str, request: Request, principal: PrincipalDep, period: Period = PeriodKind.WEEK
) -> Any:
    """Make the current period's digest for every head of the campaign that has not had it (the
    loop sends it within a second); a second call in the same period makes none, and says so.
    An admin over the whole hierarchy only."""
    require_root_admin(request, principal)
    runner = request.app.state.runner
    if runner is None:
        raise HTTPException(409, "this instance does not send (SANGKIEN_NOTIFIER_EVALUATE)")
    _registry_read(request)
    if not await runner.take_lease():
        raise HTTPException(409, "another notifier instance is active")
    try:
        done = await request.app.state.digests.send_now(
            campaign_id, period, request.app.state.clock.now()
        )
    except UnknownCampaign as error:
        raise HTTPException(404, str(error)) from error
    except (NotStarted, repository.LeaseLost) as error:
        raise HTTPException(409, str(error)) from error
    # Sent by the loop of this (the active) instance within a tick: a second dispatcher here
    # would pick the same pending deliveries as the loop's and send them twice.
    what = f"the {period.value} digest of {done.period.start.isoformat()}"
    return {
        "campaign_id": campaign_id,
        "period": period_json(done.period),
        "sent": done.sent,
        "already_sent": done.already_sent,
        "deliveries": done.deliveries,
        "message": f"{what} is on its way to {len(done.sent)} head(s)"
        if done.sent
        else f"{what} was already sent: nothing sent again",
    }


async def _preview(request: Request, campaign_id: str, unit_id: str, kind: PeriodKind) -> Digest:
    _registry_read(request)
    digests: DigestService = request.app.state.digests
    now: datetime = request.app.state.clock.now()
    try:
        return await digests.preview(campaign_id, unit_id, kind, now)
    except (UnknownCampaign, UnknownUnit) as error:
        raise HTTPException(404, str(error)) from error
    except NotARecipient as error:
        raise HTTPException(422, str(error)) from error


def _registry_read(request: Request) -> None:
    if not request.app.state.registry_ready.is_set():
        raise HTTPException(503, "the registry is still being read")
