"""Reading initiatives: one with its history, or a filtered page of many."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.paths import decode_path, subtree_pattern
from services.submission.adapters.tables import InitiativeAuthorRow, InitiativeRow, StatusChangeRow
from services.submission.domain.access import Action, Principal, authorize
from services.submission.domain.errors import InvalidInput, Problem
from services.submission.schemas import (
    Attachment,
    AuthorPublic,
    InitiativePage,
    InitiativePublic,
    StatusStep,
)
from services.submission.service.initiatives import load_initiative
from services.submission.service.units import load_unit


@dataclass(frozen=True)
class InitiativeFilter:
    """What a list asks for; ``union_id`` means that unit's whole subtree."""

    union_id: str | None = None
    campaign_id: str | None = None
    status: str | None = None
    field: str | None = None
    flagged_only: bool = False
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None


async def get_initiative(
    session: AsyncSession, principal: Principal, initiative_id: UUID
) -> InitiativePublic:
    """One initiative with its authors and status history."""
    row = await load_initiative(session, initiative_id)
    authorize(principal, Action.READ, decode_path(row.union_path))
    [public] = await _with_details(session, [row])
    return public


async def list_initiatives(
    session: AsyncSession,
    principal: Principal,
    wanted: InitiativeFilter,
    *,
    limit: int,
    cursor: str | None,
) -> InitiativePage:
    """Newest first, ``limit`` at a time, inside the caller's scope."""
    unit = await load_unit(session, wanted.union_id or principal.scope_union_id)
    path = decode_path(unit.path)
    authorize(principal, Action.READ, path)
    query = select(InitiativeRow).where(col(InitiativeRow.union_path).like(subtree_pattern(path)))
    for column, value in (
        (InitiativeRow.campaign_id, wanted.campaign_id),
        (InitiativeRow.status, wanted.status),
        (InitiativeRow.field, wanted.field),
    ):
        if value is not None:
            query = query.where(column == value)
    if wanted.flagged_only:
        query = query.where(col(InitiativeRow.possible_duplicate_of).is_not(None))
    if wanted.submitted_from is not None:
        query = query.where(col(InitiativeRow.submitted_at) >= wanted.submitted_from)
    if wanted.submitted_to is not None:
        query = query.where(col(InitiativeRow.submitted_at) < wanted.submitted_to)
    if cursor is not None:
        after_time, after_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                col(InitiativeRow.submitted_at) < after_time,
                (col(InitiativeRow.submitted_at) == after_time)
                & (col(InitiativeRow.id) < after_id),
            )
        )
    query = query.order_by(
        col(InitiativeRow.submitted_at).desc(), col(InitiativeRow.id).desc()
    ).limit(limit + 1)
    rows = list((await session.exec(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1]) if more else None
    return InitiativePage(items=await _with_details(session, rows), next_cursor=next_cursor)


async def _with_details(
    session: AsyncSession, rows: Sequence[InitiativeRow]
) -> list[InitiativePublic]:
    ids = [row.id for row in rows]
    authors: dict[str, list[InitiativeAuthorRow]] = defaultdict(list)
    history: dict[str, list[StatusChangeRow]] = defaultdict(list)
    if ids:
        for author in (
            await session.exec(
                select(InitiativeAuthorRow)
                .where(col(InitiativeAuthorRow.initiative_id).in_(ids))
                .order_by(col(InitiativeAuthorRow.position))
            )
        ).all():
            authors[author.initiative_id].append(author)
        for step in (
            await session.exec(
                select(StatusChangeRow)
                .where(col(StatusChangeRow.initiative_id).in_(ids))
                .order_by(col(StatusChangeRow.id))
            )
        ).all():
            history[step.initiative_id].append(step)
    return [_public(row, authors[row.id], history[row.id]) for row in rows]


def _public(
    row: InitiativeRow, authors: list[InitiativeAuthorRow], history: list[StatusChangeRow]
) -> InitiativePublic:
    return InitiativePublic(
        id=UUID(row.id),
        campaign_id=row.campaign_id,
        union_id=row.union_id,
        union_path=decode_path(row.union_path),
        title=row.title,
        summary=row.summary,
        field=row.field,
        authors=[AuthorPublic.model_validate(a, from_attributes=True) for a in authors],
        recognised_by=row.recognised_by,
        recognised_on=row.recognised_on,
        application_date=row.application_date,
        estimated_benefit_vnd=row.estimated_benefit_vnd,
        award=row.award,
        attachments=[Attachment.model_validate(a) for a in json.loads(row.attachments)],
        entered_by=row.entered_by,
        external_ref=row.external_ref,
        status=row.status,
        possible_duplicate_of=UUID(row.possible_duplicate_of)
        if row.possible_duplicate_of
        else None,
        submitted_at=row.submitted_at,
        history=[StatusStep.model_validate(h, from_attributes=True) for h in history],
    )


def _encode_cursor(row: InitiativeRow) -> str:
    return base64.urlsafe_b64encode(f"{row.submitted_at.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, initiative_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(moment), initiative_id
    except ValueError as error:
        raise InvalidInput(
            Problem("cursor", "opaque", "use the next_cursor of the previous page")
        ) from error
