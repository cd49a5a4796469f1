"""Every query of the digests table: which heads already have a period's digest, the last
digest's ranks, and a digest's row."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifier.adapters.tables import DigestRow
from services.notifier.domain.digest import Digest, PeriodKind, Ranked


async def sent_to(
    session: AsyncSession, campaign_id: str, kind: PeriodKind, start: date
) -> set[str]:
    """The recipients that already have the digest of the period starting on ``start``."""
    rows = await session.exec(
        select(DigestRow.recipient_union_id).where(
            DigestRow.campaign_id == campaign_id,
            DigestRow.period == kind.value,
            DigestRow.period_start == start,
        )
    )
    return set(rows)


async def is_sent(
    session: AsyncSession, campaign_id: str, recipient_id: str, kind: PeriodKind, start: date
) -> bool:
    """Whether the recipient's digest of that period is stored."""
    key = (campaign_id, recipient_id, kind.value, start)
    return await session.get(DigestRow, key) is not None


async def previous(
    session: AsyncSession, campaign_id: str, recipient_id: str, kind: PeriodKind, before: date
) -> tuple[date, dict[str, Ranked]] | None:
    """The last digest of the same kind before the period starting on ``before``: its period's
    start and its ranks (None when there is none)."""
    row = (
        await session.exec(
            select(DigestRow)
            .where(
                DigestRow.campaign_id == campaign_id,
                DigestRow.recipient_union_id == recipient_id,
                DigestRow.period == kind.value,
                col(DigestRow.period_start) < before,
            )
            .order_by(col(DigestRow.period_start).desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    ranks = {unit: Ranked(rank, counted) for unit, (rank, counted) in json.loads(row.ranks).items()}
    return row.period_start, ranks


def digest_row(digest: Digest, *, created_at: datetime) -> DigestRow:
    """The row that records a digest as made, with its ranks."""
    ranks = {unit: [kept.rank, kept.counted] for unit, kept in digest.ranks().items()}
    return DigestRow(
        campaign_id=digest.campaign_id,
        recipient_union_id=digest.recipient_id,
        period=digest.period.kind.value,
        period_start=digest.period.start,
        evaluated_at=digest.at,
        created_at=created_at,
        ranks=json.dumps(ranks, ensure_ascii=False, separators=(",", ":")),
    )
