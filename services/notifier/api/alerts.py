"""Alerts, a unit's alert history, the delivery log, and an evaluation on demand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlmodel import col, select

from services.notifier.adapters import repository
from services.notifier.adapters.tables import AlertRow, DeliveryRow
from services.notifier.api.auth import (
    PrincipalDep,
    require_root_admin,
    require_unit,
    subtree_ids,
)
from services.notifier.domain.lifecycle import AlertStatus
from shared.events import AlertRule

router = APIRouter(tags=["alerts"])
# Unit ids in one IN (…): well under SQLite's and asyncpg's 32,766 parameters a statement.
RECIPIENTS_PER_QUERY = 10_000


class AlertOut(BaseModel):
    """An alert as it stands."""

    campaign_id: str
    unit_id: str
    rule: str
    status: str
    since: datetime | None
    fired_at: datetime | None
    notified_at: datetime | None
    counted: int
    target: int
    expected: float


class DeliveryOut(BaseModel):
    """One message to one head on one channel (the address is not shown)."""

    id: str
    created_at: datetime
    evaluated_at: datetime
    campaign_id: str
    recipient_union_id: str
    channel: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


@router.get("/alerts", response_model=list[AlertOut])
async def alerts(
    request: Request,
    campaign_id: str | None = None,
    unit_id: str | None = None,
    rule: AlertRule | None = None,
    status: Annotated[
        list[AlertStatus] | None, Query(description="default: pending and firing")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    """Alerts by campaign, unit, rule and status, the longest firing first."""
    wanted = [s.value for s in status or (AlertStatus.PENDING, AlertStatus.FIRING)]
    query = select(AlertRow).where(col(AlertRow.status).in_(wanted))
    if campaign_id:
        query = query.where(AlertRow.campaign_id == campaign_id)
    if unit_id:
        query = query.where(AlertRow.unit_id == unit_id)
    if rule:
        query = query.where(AlertRow.rule == rule.value)
    query = query.order_by(col(AlertRow.since), col(AlertRow.unit_id)).limit(limit)
    async with request.app.state.database.read_only() as session:
        return list(await session.exec(query))


@router.get("/campaigns/{campaign_id}/units/{unit_id}/alerts")
async def unit_history(campaign_id: str, unit_id: str, request: Request) -> Any:
    """Every status change of the unit's alerts in the campaign, oldest first."""
    async with request.app.state.database.read_only() as session:
        changes = await repository.unit_history(session, campaign_id, unit_id)
    return [
        {
            "rule": change.rule,
            "status": change.status,
            "at": change.at,
            "counted": change.counted,
            "target": change.target,
            "expected": round(change.expected, 2),
        }
        for change in changes
    ]


@router.get("/deliveries", response_model=list[DeliveryOut])
async def deliveries(
    request: Request,
    principal: PrincipalDep,
    recipient_union_id: str | None = None,
    status: str | None = Query(None, pattern="^(pending|sent|failed)$"),
    channel: str | None = Query(None, pattern="^(email|webhook|kafka)$"),
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    """The delivery log of the heads inside the token's scope, newest first."""
    query = select(DeliveryRow)
    if status:
        query = query.where(DeliveryRow.status == status)
    if channel:
        query = query.where(DeliveryRow.channel == channel)
    newest_first = (col(DeliveryRow.created_at).desc(), col(DeliveryRow.id))
    if recipient_union_id:
        require_unit(request, principal, recipient_union_id)
        recipients: list[list[str]] | None = [[recipient_union_id]]
    elif (inside := subtree_ids(request, principal)) is not None:
        # A sector federation's subtree may hold tens of thousands of units: past the
        # drivers' limit on one statement's parameters, so ask in slices and merge.
        ids = sorted(inside)
        recipients = [
            ids[n : n + RECIPIENTS_PER_QUERY] for n in range(0, len(ids), RECIPIENTS_PER_QUERY)
        ]
    else:
        recipients = None  # the whole hierarchy
    async with request.app.state.database.read_only() as session:
        if recipients is None:
            return list(await session.exec(query.order_by(*newest_first).limit(limit)))
        rows: list[DeliveryRow] = []
        for part in recipients:
            inside_part = query.where(col(DeliveryRow.recipient_union_id).in_(part))
            rows += await session.exec(inside_part.order_by(*newest_first).limit(limit))
    rows.sort(key=lambda row: row.id)
    rows.sort(key=lambda row: row.created_at, reverse=True)
    return rows[:limit]


@router.post("/evaluations")
async def evaluate(request: Request, principal: PrincipalDep) -> Any:
    """Evaluate every running campaign now (the clock's now), then send what it made (an admin
    over the whole hierarchy)."""
    require_root_admin(request, principal)
    runner = request.app.state.runner
    if runner is None:
        raise HTTPException(409, "this instance does not evaluate (SANGKIEN_NOTIFIER_EVALUATE)")
    if not runner.registry_ready.is_set():
        raise HTTPException(503, "the registry is still being read")
    if not await runner.take_lease():
        raise HTTPException(409, "another notifier instance is active")
    try:
        done = await runner.evaluate_now()
    except repository.LeaseLost as error:
        raise HTTPException(409, str(error)) from error
    await runner.dispatcher.dispatch_due()
    return {
        "at": done.at,
        "campaigns": done.campaigns,
        "units": done.units,
        "changes": done.changes,
        "messages": done.messages,
        "deliveries": done.deliveries,
        "firing": done.firing,
    }
