"""Silences: create, list, expire; within the token's scope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlmodel import col, select

from services.notifier.adapters.tables import SilenceRow
from services.notifier.api.auth import (
    SILENCERS,
    PrincipalDep,
    require_role,
    require_unit,
    within,
)
from shared.events import AlertRule

router = APIRouter(prefix="/silences", tags=["silences"])


class SilenceIn(BaseModel):
    """A request not to notify about a unit (or its subtree) until a time."""

    unit_id: Annotated[str, Field(min_length=1, max_length=64)]
    subtree: bool = False
    rule: AlertRule | None = None
    campaign_id: str | None = None
    starts_at: AwareDatetime | None = None  # default: now
    ends_at: AwareDatetime
    author: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceIn:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceOut(BaseModel):
    """A stored silence."""

    id: str
    unit_id: str
    subtree: bool
    rule: str | None
    campaign_id: str | None
    starts_at: datetime
    ends_at: datetime
    author: str
    reason: str
    created_at: datetime
    expired_at: datetime | None


@router.post("", status_code=201, response_model=SilenceOut)
async def create(silence: SilenceIn, request: Request, principal: PrincipalDep) -> Any:
    """Silence a unit or subtree, one rule or all, from now (or starts_at) until ends_at (an
    officer or admin whose scope covers the unit)."""
    require_role(principal, SILENCERS)
    require_unit(request, principal, silence.unit_id)
    clock_now = request.app.state.clock.now()
    row = SilenceRow(
        id=str(uuid.uuid4()),
        unit_id=silence.unit_id,
        subtree=silence.subtree,
        rule=silence.rule.value if silence.rule else None,
        campaign_id=silence.campaign_id,
        starts_at=silence.starts_at or clock_now,
        ends_at=silence.ends_at,
        author=silence.author,
        reason=silence.reason,
        created_at=datetime.now(UTC),
    )
    if row.ends_at <= row.starts_at:
        raise HTTPException(422, "ends_at must be after the silence starts (now by default)")
    async with request.app.state.database.transaction() as session:
        session.add(row)
    return row


@router.get("", response_model=list[SilenceOut])
async def list_silences(request: Request, principal: PrincipalDep, active: bool = True) -> Any:
    """Silences of units inside the token's scope in force now (the clock's now), or all with
    ``active=false``."""
    query = select(SilenceRow).order_by(col(SilenceRow.ends_at))
    if active:
        now = request.app.state.clock.now()
        query = query.where(
            col(SilenceRow.starts_at) <= now,
            col(SilenceRow.ends_at) > now,
            col(SilenceRow.expired_at).is_(None),
        )
    async with request.app.state.database.read_only() as session:
        # Silences are few (dozens), so the scope is applied here rather than in SQL.
        return within(request, principal, await session.exec(query))


@router.delete("/{silence_id}", response_model=SilenceOut)
async def expire(silence_id: str, request: Request, principal: PrincipalDep) -> Any:
    """Expire a silence now; it stays in the list of all silences (an officer or admin whose
    scope covers its unit)."""
    require_role(principal, SILENCERS)
    async with request.app.state.database.transaction() as session:
        row = await session.get(SilenceRow, silence_id)
        if row is None:
            raise HTTPException(404, f"no silence {silence_id}")
        require_unit(request, principal, row.unit_id)
        row.expired_at = row.expired_at or datetime.now(UTC)
    return row
