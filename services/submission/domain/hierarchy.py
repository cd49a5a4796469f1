"""The union hierarchy's rules: levels, paths, and checking an imported tree before writing it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.submission.domain.errors import Problem
from shared.events import UnionLevel

# Lower rank = higher in the hierarchy. A child sits strictly below its parent; a grassroots
# union may hang directly under a province federation (trực thuộc), so levels may be skipped.
LEVEL_RANK: Mapping[UnionLevel, int] = {
    UnionLevel.NATIONAL: 0,
    UnionLevel.PROVINCE: 1,
    UnionLevel.UPPER_LEVEL: 2,
    UnionLevel.GRASSROOTS: 3,
}
MAX_DEPTH = 16


def level_problem(level: UnionLevel, parent_level: UnionLevel | None) -> str | None:
    """Why ``level`` cannot sit under ``parent_level``, or None when it can."""
    if parent_level is None:
        return None if level == UnionLevel.NATIONAL else "only the national union has no parent"
    if level == UnionLevel.NATIONAL:
        return "the national union has no parent"
    if LEVEL_RANK[level] <= LEVEL_RANK[parent_level]:
        return f"a {level} union cannot sit under a {parent_level} union"
    return None


def child_path(parent_path: Sequence[str], unit_id: str) -> list[str]:
    """The ids from the root to a new unit under ``parent_path``."""
    return [*parent_path, unit_id]


@dataclass(frozen=True)
class ImportedUnit:
    """One row of a hierarchy import: what the tree check needs."""

    row: int
    id: str
    parent_id: str | None
    level: UnionLevel


@dataclass(frozen=True)
class KnownUnit:
    """A unit already stored: its level and path."""

    level: UnionLevel
    path: tuple[str, ...]

    @property
    def parent_id(self) -> str | None:
        """The parent's id, from the path."""
        return self.path[-2] if len(self.path) > 1 else None


def check_tree(rows: Sequence[ImportedUnit], stored: Mapping[str, KnownUnit]) -> list[Problem]:
    """Every problem of an imported tree, by row: ids unique, parents exist, no cycles, levels.

    Rows may update stored units (same id); a parent may be in the file or already stored.
    """
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    for unit in rows:
        if unit.id in first_row:
            problems.append(
                Problem(
                    "id", "unique", f"id {unit.id!r} repeats row {first_row[unit.id]}", unit.row
                )
            )
        else:
            first_row[unit.id] = unit.row
    in_file = {unit.id: unit for unit in rows}
    for unit in rows:
        if unit.id in stored and stored[unit.id].parent_id != unit.parent_id:
            where = stored[unit.id].parent_id
            message = f"unit {unit.id!r} is stored under {where!r}; moving a unit is not supported"
            problems.append(Problem("parent_id", "immutable", message, unit.row))
            continue
        if (
            unit.parent_id is not None
            and unit.parent_id not in in_file
            and unit.parent_id not in stored
        ):
            problems.append(
                Problem(
                    "parent_id",
                    "exists",
                    f"parent {unit.parent_id!r} is neither in the file nor stored",
                    unit.row,
                )
            )
            continue
        parent_level = _level_of(unit.parent_id, in_file, stored)
        if (why := level_problem(unit.level, parent_level)) is not None:
            problems.append(Problem("level", "hierarchy", why, unit.row))
        if _has_cycle(unit, in_file, stored):
            problems.append(
                Problem("parent_id", "no_cycle", f"unit {unit.id!r} is its own ancestor", unit.row)
            )
    return problems


def paths_in_order(
    rows: Sequence[ImportedUnit], stored: Mapping[str, KnownUnit]
) -> list[tuple[ImportedUnit, list[str]]]:
    """Rows ordered parents first, each with its path (call after ``check_tree`` found nothing)."""
    in_file = {unit.id: unit for unit in rows}
    paths: dict[str, list[str]] = {}

    def path(unit_id: str) -> list[str]:
        if unit_id not in paths:
            unit = in_file[unit_id]
            if unit.parent_id is None:
                paths[unit_id] = [unit_id]
            elif unit.parent_id in in_file:
                paths[unit_id] = child_path(path(unit.parent_id), unit_id)
            else:
                paths[unit_id] = child_path(stored[unit.parent_id].path, unit_id)
        return paths[unit_id]

    ordered = sorted(rows, key=lambda unit: len(path(unit.id)))
    return [(unit, path(unit.id)) for unit in ordered]


def _level_of(
    unit_id: str | None, in_file: Mapping[str, ImportedUnit], stored: Mapping[str, KnownUnit]
) -> UnionLevel | None:
    if unit_id is None:
        return None
    return in_file[unit_id].level if unit_id in in_file else stored[unit_id].level


def _has_cycle(
    unit: ImportedUnit, in_file: Mapping[str, ImportedUnit], stored: Mapping[str, KnownUnit]
) -> bool:
    seen = {unit.id}
    parent = unit.parent_id
    while parent is not None and len(seen) <= MAX_DEPTH + len(in_file):
        if parent in seen:
            return True
        seen.add(parent)
        if parent in in_file:
            parent = in_file[parent].parent_id
        else:
            return unit.id in stored.get(parent, KnownUnit(UnionLevel.NATIONAL, ())).path
    return False
