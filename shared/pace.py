"""The pace model: where a unit should be by now, and whether it keeps up. Pure functions.

expected(t) = target × curve(elapsed fraction of the campaign); the curve is linear unless the
campaign gives points (elapsed, expected fraction) to interpolate between.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class PaceStatus(StrEnum):
    """How a unit keeps up with its expected count."""

    ON_TRACK = "on_track"
    BEHIND = "behind"
    CRITICAL = "critical"
    NOT_STARTED = "not_started"


def campaign_bounds(starts_on: date, ends_on: date, timezone: str) -> tuple[datetime, datetime]:
    """The campaign's first and last instants: local midnight of the first day to the end of
    the last (both dates are inclusive)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(starts_on, time.min, zone)
    end = datetime.combine(ends_on + timedelta(days=1), time.min, zone)
    return start, end


def elapsed_fraction(at: datetime, start: datetime, end: datetime) -> float:
    """How much of the campaign has passed at ``at``, from 0 to 1."""
    if at <= start:
        return 0.0
    if at >= end:
        return 1.0
    return (at - start) / (end - start)


def curve_fraction(elapsed: float, curve: Sequence[tuple[float, float]] | None) -> float:
    """The expected share of the target at ``elapsed``: linear, or interpolated on the curve."""
    if not curve:
        return elapsed
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if x0 <= elapsed <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (elapsed - x0) / (x1 - x0)
    return curve[-1][1]


def pace_status(
    counted: int, expected: float, *, behind_below: float, critical_below: float
) -> PaceStatus:
    """On track at or above ``behind_below`` of expected; critical under ``critical_below``."""
    if expected <= 0:
        return PaceStatus.NOT_STARTED if counted == 0 else PaceStatus.ON_TRACK
    ratio = counted / expected
    if ratio < critical_below:
        return PaceStatus.CRITICAL
    if ratio < behind_below:
        return PaceStatus.BEHIND
    return PaceStatus.ON_TRACK


def projected_total(counted: int, elapsed: float) -> float:
    """The count at the end date if the rate so far goes on."""
    return counted / elapsed if elapsed > 0 else 0.0
