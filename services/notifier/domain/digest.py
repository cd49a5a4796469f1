"""The weekly and monthly digest for the meetings (giao ban tuần, tháng): an upper-level head's
units ranked by progress, each rank's change since the last digest of the same kind, the
laggards, the units with no initiative yet, and the review backlog. Pure.

A digest belongs to a period of the campaign's calendar: an ISO week (Monday to Sunday) or a
month. It is due at 07:00 local on the period's first day (Monday, the 1st), before the
meeting, and sent once per period and head; it reports where the units stand when it is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from shared.events import CampaignDefinedData, UnionLevel
from shared.pace import campaign_bounds, local_date, zone

from .registry import Registry, Unit
from .rules import Standing

# Before the morning meeting: offices open at 7:00-7:30 and meetings start soon after.
SEND_AT = time(7, 0)
# Whose heads get a digest: the unions directly above grassroots (districts, sectors,
# industrial zones), and the provinces, whose children those unions are.
RECIPIENT_LEVELS = frozenset({UnionLevel.UPPER_LEVEL.value, UnionLevel.PROVINCE.value})


class PeriodKind(StrEnum):
    """Which meeting a digest is for."""

    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Period:
    """One week (Monday to Sunday) or one month of the campaign's local calendar."""

    kind: PeriodKind
    start: date  # first day
    end: date  # last day, included

    @property
    def label(self) -> str:
        """``tuần 19/2022 (09/05–15/05/2022)`` or ``tháng 05/2022``."""
        if self.kind is PeriodKind.MONTH:
            return f"tháng {self.start:%m/%Y}"
        year, week, _ = self.start.isocalendar()
        return f"tuần {week}/{year} ({self.start:%d/%m}–{self.end:%d/%m/%Y})"


def period_containing(kind: PeriodKind, day: date) -> Period:
    """The week or month ``day`` belongs to."""
    if kind is PeriodKind.WEEK:
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=6))
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return Period(kind, start, following - timedelta(days=1))


def issued_at(period: Period, timezone: str) -> datetime:
    """When the period's digest falls due: 07:00 local on its first day, in UTC."""
    return datetime.combine(period.start, SEND_AT, zone(timezone)).astimezone(UTC)


def due_period(kind: PeriodKind, campaign: CampaignDefinedData, at: datetime) -> Period | None:
    """The period whose digest is due at ``at``: the current one once its 07:00 has passed,
    unless that came before the campaign began (nothing to report on yet)."""
    period = period_containing(kind, local_date(at, campaign.timezone))
    due = issued_at(period, campaign.timezone)
    start, _ = campaign_bounds(campaign.starts_on, campaign.ends_on, campaign.timezone)
    if at < due or due < start:
        return None
    return period


def recipients(registry: Registry, campaign_id: str) -> list[Unit]:
    """The upper-level and province units with at least one child that has a target in the
    campaign, by id: whose heads a digest goes to."""
    found = set()
    for unit_id, target in registry.targets.get(campaign_id, {}).items():
        unit = registry.units.get(unit_id)
        if target > 0 and unit is not None and unit.parent_id is not None:
            found.add(unit.parent_id)
    return [
        registry.units[unit_id]
        for unit_id in sorted(found)
        if unit_id in registry.units and registry.units[unit_id].level in RECIPIENT_LEVELS
    ]


@dataclass(frozen=True)
class Ranked:
    """What a sent digest keeps of one unit, to measure the next one against."""

    rank: int
    counted: int


@dataclass(frozen=True)
class DigestLine:
    """One unit of a digest: its rank, where it stands, and how that moved."""

    rank: int
    unit: Standing
    registered: int  # initiatives registered (0: none yet), whatever counts for the target
    previous: Ranked | None  # in the last digest of the same kind; None: new since then

    @property
    def rank_change(self) -> int | None:
        """Places gained since the last digest (negative: lost); None when the unit is new."""
        return None if self.previous is None else self.previous.rank - self.rank

    @property
    def gained(self) -> int | None:
        """Counted since the last digest; None when the unit is new."""
        return None if self.previous is None else self.unit.counted - self.previous.counted


@dataclass(frozen=True)
class Digest:
    """One head's digest for one period."""

    campaign_id: str
    campaign_name: str
    timezone: str
    recipient_id: str
    recipient_name: str
    period: Period
    at: datetime  # the campaign clock's instant the numbers are of
    lines: tuple[DigestLine, ...]  # best first
    total: Standing | None  # the recipient's own numbers, when it has a target
    compared_with: date | None  # the start of the period of the digest ranks are compared to
    backlog_limit_days: int

    @property
    def laggards(self) -> tuple[DigestLine, ...]:
        """Behind or critical (past the grace period), the largest gap first."""
        found = [line for line in self.lines if line.unit.lagging]
        return tuple(sorted(found, key=lambda line: (-line.unit.gap, line.unit.unit_id)))

    @property
    def without_initiatives(self) -> tuple[DigestLine, ...]:
        """Units that have registered no initiative yet, in rank order."""
        return tuple(line for line in self.lines if line.registered == 0)

    @property
    def review_backlog(self) -> tuple[DigestLine, ...]:
        """Units with initiatives under review, those waiting too long first."""
        found = [line for line in self.lines if line.unit.under_review > 0]
        return tuple(sorted(found, key=_longest_waiting_first))

    def ranks(self) -> dict[str, Ranked]:
        """What to keep of this digest for the next one."""
        return {line.unit.unit_id: Ranked(line.rank, line.unit.counted) for line in self.lines}


def _longest_waiting_first(line: DigestLine) -> tuple[int, int, str]:
    return (-line.unit.waiting_too_long, -line.unit.under_review, line.unit.unit_id)


def rank(
    units: Iterable[tuple[Standing, int]], previous: Mapping[str, Ranked]
) -> tuple[DigestLine, ...]:
    """Units (each with its registered count) ranked by percentage of target, then by how many
    they counted, then by id; each with its standing in the previous digest."""
    ordered = sorted(units, key=lambda unit: _rank_key(unit[0]))
    return tuple(
        DigestLine(place, unit, registered, previous.get(unit.unit_id))
        for place, (unit, registered) in enumerate(ordered, start=1)
    )


def _rank_key(unit: Standing) -> tuple[float, int, str]:
    # Compared as fractions, not rounded percentages: 1/3 ranks above 33/100.
    share = unit.counted / unit.target if unit.target else 0.0
    return (-share, -unit.counted, unit.unit_id)


def build(
    *,
    campaign_id: str,
    campaign: CampaignDefinedData,
    recipient: Unit,
    period: Period,
    at: datetime,
    units: Iterable[tuple[Standing, int]],
    previous: Mapping[str, Ranked],
    compared_with: date | None,
    total: Standing | None = None,
    backlog_limit_days: int,
) -> Digest:
    """The digest of ``recipient``'s units at ``at``, ranked against the previous digest's."""
    return Digest(
        campaign_id=campaign_id,
        campaign_name=campaign.name,
        timezone=campaign.timezone,
        recipient_id=recipient.id,
        recipient_name=recipient.name,
        period=period,
        at=at,
        lines=rank(units, previous),
        total=total,
        compared_with=compared_with,
        backlog_limit_days=backlog_limit_days,
    )
