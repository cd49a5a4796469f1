"""Every query of the notifier's database: alert state, history, deliveries, silences, lease."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifier.adapters.tables import (
    AlertChangeRow,
    AlertRow,
    DeliveryRow,
    LeaseRow,
    SilenceRow,
)
from services.notifier.domain.lifecycle import AlertState, AlertStatus
from services.notifier.domain.silences import SilenceRule
from shared.events import AlertRule


class LeaseLost(Exception):
    """Another notifier instance holds the lease: this one must not write or send."""


async def take_lease(
    session: AsyncSession, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease when it is free, expired or already ours; True when held."""
    row = await session.get(LeaseRow, name, with_for_update=True)
    if row is None:
        session.add(LeaseRow(name=name, holder=holder, expires_at=now + ttl))
        return True
    if row.holder != holder and row.expires_at > now:
        return False
    row.holder, row.expires_at = holder, now + ttl
    return True


async def hold_lease(session: AsyncSession, *, name: str, holder: str, now: datetime) -> None:
    """Raise LeaseLost unless ``holder`` still holds an unexpired lease; called inside the
    transaction that writes, so a paused instance that lost it writes nothing (a fence)."""
    result = await session.exec(
        update(LeaseRow)
        .where(
            col(LeaseRow.name) == name,
            col(LeaseRow.holder) == holder,
            col(LeaseRow.expires_at) > now,
        )
        .values(holder=holder)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"the lease {name!r} is not held by {holder}")


async def alert_rows(session: AsyncSession, campaign_id: str) -> dict[tuple[str, str], AlertRow]:
    """The campaign's stored alerts by (unit, rule)."""
    rows = await session.exec(select(AlertRow).where(AlertRow.campaign_id == campaign_id))
    return {(row.unit_id, row.rule): row for row in rows}


def state_of(row: AlertRow | None) -> AlertState:
    """The lifecycle state a row stores (a fresh one when there is no row)."""
    if row is None:
        return AlertState()
    return AlertState(
        status=AlertStatus(row.status),
        since=row.since,
        fired_at=row.fired_at,
        notified_at=row.notified_at,
        told=row.told,
        escalated_at=row.escalated_at,
    )


def store_state(row: AlertRow, state: AlertState) -> None:
    """Write a lifecycle state into its row."""
    row.status = state.status.value
    row.since, row.fired_at, row.notified_at = state.since, state.fired_at, state.notified_at
    row.told, row.escalated_at = state.told, state.escalated_at


async def active_silences(session: AsyncSession, now: datetime) -> list[SilenceRule]:
    """The silences in force at ``now``."""
    rows = await session.exec(
        select(SilenceRow).where(
            col(SilenceRow.starts_at) <= now,
            col(SilenceRow.ends_at) > now,
            col(SilenceRow.expired_at).is_(None),
        )
    )
    return [
        SilenceRule(
            unit_id=row.unit_id,
            subtree=row.subtree,
            rule=AlertRule(row.rule) if row.rule else None,
            campaign_id=row.campaign_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
        )
        for row in rows
    ]


async def due_deliveries(session: AsyncSession, now: datetime, limit: int) -> list[DeliveryRow]:
    """Pending deliveries whose next attempt is due, oldest first."""
    rows = await session.exec(
        select(DeliveryRow)
        .where(DeliveryRow.status == "pending", col(DeliveryRow.next_attempt_at) <= now)
        .order_by(col(DeliveryRow.next_attempt_at), col(DeliveryRow.id))
        .limit(limit)
    )
    return list(rows)


async def unit_history(
    session: AsyncSession, campaign_id: str, unit_id: str
) -> list[AlertChangeRow]:
    """Every status change of a unit's alerts in a campaign, oldest first."""
    rows = await session.exec(
        select(AlertChangeRow)
        .where(AlertChangeRow.campaign_id == campaign_id, AlertChangeRow.unit_id == unit_id)
        .order_by(col(AlertChangeRow.at), col(AlertChangeRow.id))
    )
    return list(rows)
