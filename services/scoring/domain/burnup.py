"""A unit's burn-up: what it has counted day by day, what the pace model expected of it by each
day, and where its rate since the start leads by the end date. Pure: counters and campaign in,
points out; every judgement of pace is ``shared.pace``'s, so the chart agrees with the progress
numbers and with the notifier's alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from shared.events import CampaignDefinedData
from shared.pace import (
    DAY,
    Curve,
    campaign_bounds,
    elapsed_fraction,
    expected_count,
    local_date,
    projected_recent,
    projected_total,
    zone,
)


@dataclass(frozen=True)
class BurnupPoint:
    """One campaign day of the chart."""

    day: date
    # Registrations so far, by the end of the day (today: so far); None for days still ahead.
    actual: int | None
    expected: float | None  # the pace model at the end of the day; None without a target
    # The rate since the start carried on: today's point is the count so far, where the line
    # leaves the actual one; None before today.
    projected: float | None


@dataclass(frozen=True)
class Burnup:
    """A unit's burn-up over its campaign, as of one instant."""

    starts_on: date
    ends_on: date
    today: date  # the campaign-local day of the instant
    counts: str  # what counts toward the target: "valid" or "registered"
    target: int | None  # the unit's own target when it set one, else the assigned one
    counted: int
    expected_now: float | None  # what the pace model expects at the instant itself
    projected_total: float  # the rate since the start, carried to the end date
    projected_recent: float | None  # the rate of the last 7 days, carried to the end date
    points: tuple[BurnupPoint, ...]


def burnup(
    by_day: Mapping[str, int],
    counted: int,
    campaign: CampaignDefinedData,
    *,
    target: int | None,
    at: datetime,
) -> Burnup:
    """The burn-up of a unit that ``counted`` what counts and registered ``by_day`` (campaign-
    local YYYY-MM-DD → registrations that day, withdrawals taken out), as of ``at``.

    The daily counters keep registrations, not reviews: where a campaign counts valid
    initiatives, ``actual`` is what was registered and only ``counted`` (and the projections
    from it) is what counts.
    """
    start, end = campaign_bounds(campaign.starts_on, campaign.ends_on, campaign.timezone)
    elapsed = elapsed_fraction(at, start, end)
    curve = campaign.curve
    today = local_date(at, campaign.timezone)
    overall = projected_total(counted, elapsed)
    points = []
    for day, registered in _cumulative(by_day, campaign.starts_on, campaign.ends_on):
        # Each day is read at its end: what was registered by then, what was expected by then.
        day_elapsed = elapsed_fraction(_end_of(day, campaign.timezone), start, end)
        points.append(
            BurnupPoint(
                day=day,
                actual=registered if day <= today else None,
                expected=_expected(target, day_elapsed, curve),
                projected=_projected(day, today, counted, overall * day_elapsed, elapsed),
            )
        )
    recent = projected_recent(
        counted,
        by_day,
        at=at,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        timezone=campaign.timezone,
    )
    return Burnup(
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        today=today,
        counts=campaign.counts.value,
        target=target,
        counted=counted,
        expected_now=_expected(target, elapsed, curve),
        projected_total=round(overall, 1),
        projected_recent=None if recent is None else round(recent, 1),
        points=tuple(points),
    )


def _cumulative(
    by_day: Mapping[str, int], starts_on: date, ends_on: date
) -> list[tuple[date, int]]:
    """Every campaign day with the registrations up to its end; days before the start (a stock
    carried in) count from the first day, so the line starts where the unit stood."""
    total = sum(n for day, n in by_day.items() if day < starts_on.isoformat())
    result = []
    day = starts_on
    while day <= ends_on:
        total += by_day.get(day.isoformat(), 0)
        result.append((day, total))
        day += DAY
    return result


def _end_of(day: date, timezone: str) -> datetime:
    """The instant a campaign-local day ends (the next day's local midnight), in UTC."""
    return datetime.combine(day + DAY, time.min, zone(timezone)).astimezone(UTC)


def _expected(target: int | None, elapsed: float, curve: Curve | None) -> float | None:
    """The pace model's count at ``elapsed``, to the hundredth; None without a target."""
    return None if target is None else round(expected_count(target, elapsed, curve), 2)


def _projected(
    day: date, today: date, counted: int, on_the_line: float, elapsed: float
) -> float | None:
    """The projected line at the end of ``day``: nothing before today, nor before the start
    (there is no rate yet); today the count so far, where the line leaves the actual one; later
    ``on_the_line``, the rate since the start carried to the day's end (``projected_total``'s
    line, which ends at the projected total)."""
    if day < today or elapsed <= 0:
        return None
    if day == today:
        return float(counted)
    return round(on_the_line, 1)
