"""Registry use cases: units of the union hierarchy, one by one or as an imported tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.outbox import stage_event
from services.submission.adapters.paths import decode_path, encode_path, subtree_pattern
from services.submission.adapters.tables import UnitRow, now
from services.submission.domain.access import Action, Principal, authorize
from services.submission.domain.errors import Conflict, InvalidInput, NotFound, Problem
from services.submission.domain.hierarchy import (
    ImportedUnit,
    KnownUnit,
    check_tree,
    child_path,
    level_problem,
    paths_in_order,
)
from services.submission.schemas import ImportReport, UnitCreate, UnitPublic, UnitUpdate
from shared.events import UnionHead, UnionLevel, UnionUpserted, UnionUpsertedData
from shared.settings import SubmissionSettings

_unit_adapter = TypeAdapter(UnitCreate)


async def load_unit(session: AsyncSession, unit_id: str, *, field: str = "union_id") -> UnitRow:
    """A stored unit, or NotFound naming ``field``."""
    row = await session.get(UnitRow, unit_id)
    if row is None:
        raise NotFound(Problem(field, "exists", f"no unit {unit_id!r}"))
    return row


async def create_unit(
    session: AsyncSession, settings: SubmissionSettings, principal: Principal, unit: UnitCreate
) -> UnitRow:
    """Add a unit under an existing parent (the national root has none)."""
    parent = await load_unit(session, unit.parent_id, field="parent_id") if unit.parent_id else None
    authorize(principal, Action.MANAGE_REGISTRY, decode_path(parent.path) if parent else [unit.id])
    if await session.get(UnitRow, unit.id) is not None:
        raise Conflict(Problem("id", "unique", f"unit {unit.id!r} exists already"))
    if (why := level_problem(unit.level, UnionLevel(parent.level) if parent else None)) is not None:
        raise InvalidInput(Problem("level", "hierarchy", why))
    path = child_path(decode_path(parent.path) if parent else [], unit.id)
    row = UnitRow(
        id=unit.id,
        parent_id=unit.parent_id,
        level=unit.level,
        path=encode_path(path),
        created_at=now(),
    )
    _apply(row, unit.model_dump(exclude={"id", "parent_id", "level"}))
    return _write(session, settings, row)


async def update_unit(
    session: AsyncSession,
    settings: SubmissionSettings,
    principal: Principal,
    unit_id: str,
    change: UnitUpdate,
) -> UnitRow:
    """Change a unit's name, sector, cluster, members or head."""
    row = await load_unit(session, unit_id)
    authorize(principal, Action.MANAGE_REGISTRY, decode_path(row.path))
    _apply(row, change.model_dump(exclude_unset=True))
    return _write(session, settings, row)


async def import_units(
    session: AsyncSession,
    settings: SubmissionSettings,
    principal: Principal,
    rows: Sequence[dict[str, Any]],
) -> ImportReport:
    """Check a whole tree (every problem, by row) and write it only if it has none."""
    units, problems = _parse_rows(rows)
    stored = await _stored_units(
        session,
        {u.id for u in units.values()} | {u.parent_id for u in units.values() if u.parent_id},
    )
    problems += check_tree(
        [ImportedUnit(row, u.id, u.parent_id, u.level) for row, u in units.items()], stored
    )
    if problems:
        raise InvalidInput(*problems)
    by_id = {unit.id: unit for unit in units.values()}
    created = updated = 0
    for imported, path in paths_in_order(
        [ImportedUnit(r, u.id, u.parent_id, u.level) for r, u in units.items()], stored
    ):
        authorize(principal, Action.MANAGE_REGISTRY, path)
        row = await session.get(UnitRow, imported.id)
        if row is None:
            row = UnitRow(
                id=imported.id,
                parent_id=imported.parent_id,
                level=imported.level,
                path=encode_path(path),
                created_at=now(),
            )
            created += 1
        else:
            updated += 1
        _apply(row, by_id[imported.id].model_dump(exclude={"id", "parent_id", "level"}))
        _write(session, settings, row)
        await session.flush()  # parents before children: the foreign key needs them
    return ImportReport(created=created, updated=updated)


async def children(session: AsyncSession, unit_id: str) -> list[UnitRow]:
    """The units directly under ``unit_id``, by id."""
    await load_unit(session, unit_id)
    return list(
        (
            await session.exec(
                select(UnitRow).where(UnitRow.parent_id == unit_id).order_by(col(UnitRow.id))
            )
        ).all()
    )


async def subtree(session: AsyncSession, unit_id: str) -> list[UnitRow]:
    """The unit and everything below it, parents before children."""
    root = await load_unit(session, unit_id)
    query = select(UnitRow).where(col(UnitRow.path).like(subtree_pattern(decode_path(root.path))))
    return sorted((await session.exec(query)).all(), key=lambda row: (row.path.count("/"), row.id))


def to_public(row: UnitRow, principal: Principal) -> UnitPublic:
    """A unit for the API; head contacts only inside the caller's scope."""
    path = decode_path(row.path)
    head = _head(row) if principal.covers(path) else None
    return UnitPublic(
        id=row.id,
        name=row.name,
        parent_id=row.parent_id,
        level=UnionLevel(row.level),
        path=path,
        sector=row.sector,
        emulation_cluster=row.emulation_cluster,
        members=row.members,
        head=head,
    )


def _apply(row: UnitRow, fields: dict[str, Any]) -> None:
    head = fields.pop("head", "unset")
    for name, value in fields.items():
        setattr(row, name, value)
    if head != "unset":
        row.head_name = head["name"] if head else None
        row.head_email = head.get("email") if head else None
        row.head_webhook_url = (
            str(head["webhook_url"]) if head and head.get("webhook_url") else None
        )
        row.head_alert_channels = ",".join(head.get("alert_channels", [])) if head else ""


def _head(row: UnitRow) -> UnionHead | None:
    if row.head_name is None:
        return None
    channels = [c for c in row.head_alert_channels.split(",") if c]
    return UnionHead.model_validate(
        {
            "name": row.head_name,
            "email": row.head_email,
            "webhook_url": row.head_webhook_url,
            "alert_channels": channels,
        }
    )


def _write(session: AsyncSession, settings: SubmissionSettings, row: UnitRow) -> UnitRow:
    row.updated_at = now()
    session.add(row)
    data = UnionUpsertedData(
        name=row.name,
        level=UnionLevel(row.level),
        parent_id=row.parent_id,
        sector=row.sector,
        emulation_cluster=row.emulation_cluster,
        members=row.members,
        head=_head(row),
    )
    event = UnionUpserted(
        occurred_at=row.updated_at,
        campaign_id=None,
        union_id=row.id,
        union_path=decode_path(row.path),
        data=data,
    )
    stage_event(session, settings.topic_registry, event)
    return row


def _parse_rows(rows: Sequence[dict[str, Any]]) -> tuple[dict[int, UnitCreate], list[Problem]]:
    units: dict[int, UnitCreate] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(rows, start=1):
        try:
            units[number] = _unit_adapter.validate_python(raw)
        except ValidationError as error:
            for detail in error.errors():
                field = ".".join(str(part) for part in detail["loc"]) or "row"
                problems.append(Problem(field, detail["type"], detail["msg"], number))
    return units, problems


async def _stored_units(session: AsyncSession, ids: set[str]) -> dict[str, KnownUnit]:
    found: dict[str, KnownUnit] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):  # SQLite caps the variables of one statement
        query = select(UnitRow).where(col(UnitRow.id).in_(ordered[start : start + 500]))
        for row in (await session.exec(query)).all():
            found[row.id] = KnownUnit(UnionLevel(row.level), tuple(decode_path(row.path)))
    return found
