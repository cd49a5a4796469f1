"""The union hierarchy: its units in 4 levels, as the registry describes them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from shared.events import UnionLevel

from .base import ROOT

PROVINCES = 63
UPPER_LEVEL = 700


@dataclass(frozen=True)
class Unit:
    """One union unit: where it sits and what the registry says of it."""

    id: str
    level: UnionLevel
    parent: str
    path: tuple[str, ...]
    cluster: str
    members: int
    target: int = 0


def build_hierarchy(units: int) -> list[Unit]:
    """``units`` units in 4 levels, root first: 63 provinces, 700 upper-level, then grassroots."""
    grassroots_count = units - 1 - PROVINCES - UPPER_LEVEL
    root = Unit(ROOT, UnionLevel.NATIONAL, "", (ROOT,), "", 10_000_000)
    provinces = [
        Unit(f"tinh-{p:02d}", UnionLevel.PROVINCE, ROOT, (ROOT, f"tinh-{p:02d}"), f"cum-{p % 8}", 0)
        for p in range(1, PROVINCES + 1)
    ]
    uppers = []
    for u in range(UPPER_LEVEL):
        province = provinces[u % PROVINCES]
        unit_id = f"{province.id}-ct{u:03d}"
        cluster = f"cum-ct-{u % 40}"
        uppers.append(
            Unit(
                unit_id, UnionLevel.UPPER_LEVEL, province.id, (*province.path, unit_id), cluster, 0
            )
        )
    grassroots = []
    targets: Counter[str] = Counter()
    for g in range(grassroots_count):
        upper = uppers[g % UPPER_LEVEL]
        unit_id = f"cs{g:06d}"
        members = 20 + (g * 7919) % 480
        target = 2 + members // 100  # about what the generated submissions reach: pace varies
        grassroots.append(
            Unit(
                unit_id,
                UnionLevel.GRASSROOTS,
                upper.id,
                (*upper.path, unit_id),
                f"cum-cs-{g % 500}",
                members,
                target,
            )
        )
        for ancestor in upper.path:
            targets[ancestor] += target
    members_of = Counter[str]()
    for unit in grassroots:
        for ancestor in unit.path[:-1]:
            members_of[ancestor] += unit.members
    upper_levels = [
        Unit(u.id, u.level, u.parent, u.path, u.cluster, members_of[u.id], targets[u.id])
        for u in (root, *provinces, *uppers)
    ]
    return upper_levels + grassroots
