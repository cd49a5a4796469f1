"""A unit's progress toward its target, from its counters, target and campaign. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.counters import UnitCounters
from shared.events import CampaignDefinedData
from shared.pace import (
    PaceStatus,
    campaign_bounds,
    curve_fraction,
    elapsed_fraction,
    pace_status,
    projected_total,
)


@dataclass(frozen=True)
class Progress:
    """What a head reads about one unit."""

    target: int | None  # the unit's own target when it set one, else the assigned one
    assigned_target: int | None
    own_target: int | None
    counted: int
    percentage: float | None
    expected_percentage: float
    pace: PaceStatus
    projected_total: float


def target_of(*, assigned_target: int | None, own_target: int | None) -> int | None:
    """The target a unit is measured against: its own when it set one (federations often
    register more than they are assigned), else the assigned one."""
    return own_target if own_target is not None else assigned_target


def progress(
    counters: UnitCounters,
    campaign: CampaignDefinedData,
    *,
    assigned_target: int | None,
    own_target: int | None,
    at: datetime,
) -> Progress:
    """Percentages are of the unit's own target (it may be above the assigned one)."""
    target = target_of(assigned_target=assigned_target, own_target=own_target)
    counted = counters.counted(campaign.counts.value)
    start, end = campaign_bounds(campaign.starts_on, campaign.ends_on, campaign.timezone)
    elapsed = elapsed_fraction(at, start, end)
    curve = campaign.curve
    expected_share = curve_fraction(elapsed, curve)
    expected = (target or 0) * expected_share
    return Progress(
        target=target,
        assigned_target=assigned_target,
        own_target=own_target,
        counted=counted,
        percentage=round(100 * counted / target, 2) if target else None,
        expected_percentage=round(100 * expected_share, 2),
        pace=pace_status(
            counted,
            expected,
            behind_below=campaign.behind_below,
            critical_below=campaign.critical_below,
        ),
        projected_total=round(projected_total(counted, elapsed), 1),
    )
