"""Campaign and target use cases; every target change is kept with who, when, from, to, why."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.outbox import stage_event
from services.submission.adapters.paths import decode_path
from services.submission.adapters.tables import (
    CampaignRow,
    TargetAdjustmentRow,
    TargetRow,
    UnitRow,
    now,
)
from services.submission.domain.access import Action, Principal, authorize
from services.submission.domain.errors import Conflict, InvalidInput, NotFound, Problem
from services.submission.domain.initiatives import CampaignWindow
from services.submission.schemas import (
    CampaignCreate,
    CampaignPublic,
    TargetAdjustment,
    TargetChange,
    TargetPublic,
)
from services.submission.service.units import load_unit
from shared.events import CampaignDefined, CampaignDefinedData, TargetSet, TargetSetData
from shared.settings import SubmissionSettings


async def load_campaign(session: AsyncSession, campaign_id: str) -> CampaignRow:
    """A stored campaign, or NotFound naming campaign_id."""
    row = await session.get(CampaignRow, campaign_id)
    if row is None:
        raise NotFound(Problem("campaign_id", "exists", f"no campaign {campaign_id!r}"))
    return row


async def define_campaign(
    session: AsyncSession,
    settings: SubmissionSettings,
    principal: Principal,
    campaign: CampaignCreate,
    *,
    replace: bool,
) -> CampaignRow:
    """Create a campaign (or, with ``replace``, redefine an existing one)."""
    organiser = await load_unit(session, campaign.organiser_id, field="organiser_id")
    authorize(principal, Action.MANAGE_REGISTRY, decode_path(organiser.path))
    data = _event_data(campaign)  # the contract's rules (dates, curve, thresholds) apply here
    row = await session.get(CampaignRow, campaign.id)
    if row is None and replace:
        raise NotFound(Problem("campaign_id", "exists", f"no campaign {campaign.id!r}"))
    if row is not None and not replace:
        raise Conflict(Problem("id", "unique", f"campaign {campaign.id!r} exists already"))
    row = row or CampaignRow(id=campaign.id, created_at=now())
    for name, value in campaign.model_dump(exclude={"id", "pace_curve"}).items():
        setattr(row, name, value)
    row.pace_curve = (
        json.dumps([p.model_dump() for p in campaign.pace_curve]) if campaign.pace_curve else None
    )
    row.updated_at = now()
    session.add(row)
    event = CampaignDefined(
        occurred_at=row.updated_at,
        campaign_id=row.id,
        union_id=organiser.id,
        union_path=decode_path(organiser.path),
        data=data,
    )
    stage_event(session, settings.topic_registry, event)
    return row


def _event_data(campaign: CampaignCreate) -> CampaignDefinedData:
    try:
        return CampaignDefinedData.model_validate(
            campaign.model_dump(exclude={"id", "organiser_id"})
        )
    except ValueError as error:
        errors = getattr(error, "errors", lambda: [])()
        raise InvalidInput(
            *[
                Problem(".".join(map(str, e["loc"])) or "campaign", e["type"], e["msg"])
                for e in errors
            ]
        ) from error


def campaign_public(row: CampaignRow) -> CampaignPublic:
    """A campaign for the API."""
    fields = row.model_dump()
    fields["pace_curve"] = json.loads(row.pace_curve) if row.pace_curve else None
    return CampaignPublic.model_validate(fields)


def campaign_window(row: CampaignRow) -> CampaignWindow:
    """What registration checks of a campaign."""
    return CampaignWindow(
        id=row.id,
        organiser_id=row.organiser_id,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        eligible_from=row.eligible_from,
        eligible_to=row.eligible_to,
        timezone=row.timezone,
    )


async def list_campaigns(session: AsyncSession) -> list[CampaignRow]:
    """Every campaign, newest start first."""
    return list(
        (await session.exec(select(CampaignRow).order_by(col(CampaignRow.starts_on).desc()))).all()
    )


async def set_target(
    session: AsyncSession,
    settings: SubmissionSettings,
    principal: Principal,
    campaign_id: str,
    union_id: str,
    change: TargetChange,
) -> TargetPublic:
    """Change a unit's assigned and/or own target, keeping the adjustment."""
    campaign = await load_campaign(session, campaign_id)
    unit = await load_unit(session, union_id)
    path = decode_path(unit.path)
    authorize(principal, Action.MANAGE_REGISTRY, path)
    if campaign.organiser_id not in path:
        raise InvalidInput(
            Problem("union_id", "scope", f"{union_id!r} is outside campaign {campaign_id!r}")
        )
    target = await session.get(TargetRow, (campaign_id, union_id)) or TargetRow(
        campaign_id=campaign_id, union_id=union_id
    )
    previous = (target.assigned_target, target.own_target)
    changes = change.model_dump(exclude_unset=True, exclude={"reason"})
    for name, value in changes.items():
        setattr(target, name, value)
    target.updated_at = now()
    session.add(target)
    session.add(
        TargetAdjustmentRow(
            campaign_id=campaign_id,
            union_id=union_id,
            previous_assigned_target=previous[0],
            previous_own_target=previous[1],
            assigned_target=target.assigned_target,
            own_target=target.own_target,
            changed_by=principal.actor_id,
            reason=change.reason,
            changed_at=target.updated_at,
        )
    )
    data = TargetSetData(
        assigned_target=target.assigned_target,
        own_target=target.own_target,
        previous_assigned_target=previous[0],
        previous_own_target=previous[1],
        changed_by=principal.actor_id,
        reason=change.reason,
    )
    event = TargetSet(
        occurred_at=target.updated_at,
        campaign_id=campaign_id,
        union_id=union_id,
        union_path=path,
        data=data,
    )
    stage_event(session, settings.topic_registry, event)
    await session.flush()
    return await get_target(session, campaign_id, union_id)


async def get_target(session: AsyncSession, campaign_id: str, union_id: str) -> TargetPublic:
    """A unit's targets, its children's totals beside them, and every adjustment."""
    await load_campaign(session, campaign_id)
    await load_unit(session, union_id)
    target = await session.get(TargetRow, (campaign_id, union_id))
    child_ids = select(UnitRow.id).where(UnitRow.parent_id == union_id)
    totals = (
        await session.exec(
            select(
                func.coalesce(func.sum(TargetRow.assigned_target), 0),
                func.coalesce(func.sum(TargetRow.own_target), 0),
                func.count(),
            ).where(TargetRow.campaign_id == campaign_id, col(TargetRow.union_id).in_(child_ids))
        )
    ).one()
    history = (
        await session.exec(
            select(TargetAdjustmentRow)
            .where(
                TargetAdjustmentRow.campaign_id == campaign_id,
                TargetAdjustmentRow.union_id == union_id,
            )
            .order_by(col(TargetAdjustmentRow.id))
        )
    ).all()
    return TargetPublic(
        campaign_id=campaign_id,
        union_id=union_id,
        assigned_target=target.assigned_target if target else None,
        own_target=target.own_target if target else None,
        children_assigned_total=int(totals[0]),
        children_own_total=int(totals[1]),
        children_with_target=int(totals[2]),
        history=[TargetAdjustment.model_validate(h, from_attributes=True) for h in history],
    )
