"""The counters computed the plain way, from the final state of every initiative: what the
Redis counters must equal after any sequence of deliveries. Tests compare the two."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Initiative:
    """An initiative as the database ends up holding it."""

    id: str
    path: tuple[str, ...]
    status: str  # submitted, valid, rejected, withdrawn
    field: str
    categories: tuple[str, ...]
    person_keys: tuple[str, ...]
    benefit_vnd: int
    day: str


@dataclass
class Expected:
    """One unit's expected totals."""

    registered: int = 0
    under_review: int = 0
    valid: int = 0
    rejected: int = 0
    withdrawn: int = 0
    benefit_vnd: int = 0
    people: set[str] = field(default_factory=set)
    by_field: Counter[str] = field(default_factory=Counter)
    by_day: Counter[str] = field(default_factory=Counter)
    backlog_by_day: Counter[str] = field(default_factory=Counter)  # under review, by day


def expected_counters(initiatives: Iterable[Initiative]) -> dict[str, Expected]:
    """Totals per unit, each initiative counted at its unit and every ancestor."""
    units: dict[str, Expected] = defaultdict(Expected)
    for initiative in initiatives:
        for unit in initiative.path:
            totals = units[unit]
            if initiative.status == "withdrawn":
                totals.withdrawn += 1
                continue
            totals.registered += 1
            totals.benefit_vnd += initiative.benefit_vnd
            totals.people.update(initiative.person_keys)
            totals.by_field[f"registered|{initiative.field}"] += 1
            totals.by_day[initiative.day] += 1
            if initiative.status == "submitted":
                totals.under_review += 1
                totals.backlog_by_day[initiative.day] += 1
            elif initiative.status == "valid":
                totals.valid += 1
                totals.by_field[f"valid|{initiative.field}"] += 1
            else:
                totals.rejected += 1
    return dict(units)
