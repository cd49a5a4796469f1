"""Where a unit stands at one evaluation, and which alert rules that makes active. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.counters import UnitCounters, UnitSummary
from shared.events import AlertRule, CampaignDefinedData
from shared.pace import PaceStatus, assess, local_date, needed_per_day, pace_status

DEFAULT_BACKLOG_LIMIT_DAYS = 7


@dataclass(frozen=True)
class Standing:
    """The numbers a head acts on, for one unit of one campaign at one instant."""

    campaign_id: str
    unit_id: str
    name: str
    counted: int
    target: int
    expected: float
    status: PaceStatus
    lagging: bool  # behind or critical, past the grace period
    days_left: int
    needed_per_day: int | None
    under_review: int
    waiting_too_long: int  # under review, submitted more than the backlog limit ago
    backlog_limit_days: int

    @property
    def gap(self) -> int:
        """How many initiatives short of the pace, rounded up (0 when ahead): a lagging unit
        is never told it is 0 short."""
        # The epsilon keeps a float's last digit (21.000000001) from adding one.
        return max(0, math.ceil(self.expected - self.counted - 1e-9))

    @property
    def percentage(self) -> float:
        """Counted as a percentage of the target (0 without a target)."""
        return 100 * self.counted / self.target if self.target else 0.0


@dataclass(frozen=True, slots=True)
class CampaignPace:
    """What one instant means for one campaign, the same for every unit: computed once an
    evaluation rather than once a unit (the pace model's report costs about 6 µs, a second for
    150,000 units, and says nothing new after the first)."""

    campaign_id: str
    counts: str  # what counts toward the target: valid or registered
    share: float  # the share of the target expected by now
    in_grace: bool
    days_left: int
    behind_below: float
    critical_below: float
    backlog_cutoff: date  # under review since before this local day: waiting too long
    backlog_limit_days: int

    @classmethod
    def at(
        cls,
        *,
        campaign_id: str,
        campaign: CampaignDefinedData,
        at: datetime,
        backlog_limit_days: int = DEFAULT_BACKLOG_LIMIT_DAYS,
    ) -> CampaignPace:
        """The campaign's pace at ``at``, from the pace model."""
        curve = campaign.curve
        # Every unit's report shares these; a target of 0 asks for nothing else.
        report = assess(
            0,
            0,
            at=at,
            starts_on=campaign.starts_on,
            ends_on=campaign.ends_on,
            timezone=campaign.timezone,
            curve=curve,
            behind_below=campaign.behind_below,
            critical_below=campaign.critical_below,
            grace_fraction=campaign.grace_fraction,
        )
        return cls(
            campaign_id=campaign_id,
            counts=campaign.counts.value,
            share=report.expected_share,
            in_grace=report.in_grace,
            days_left=report.days_left,
            behind_below=campaign.behind_below,
            critical_below=campaign.critical_below,
            backlog_cutoff=_backlog_cutoff(at, campaign.timezone, backlog_limit_days),
            backlog_limit_days=backlog_limit_days,
        )

    def standing(self, *, unit_id: str, name: str, target: int, counters: UnitSummary) -> Standing:
        """Where one unit stands: what ``assess`` would say of it, without its report
        (``counters`` read with ``waiting_before=self.backlog_cutoff``)."""
        counted = counters.counted(self.counts)
        expected = target * self.share  # as assess computes it, to the last bit
        status = pace_status(
            counted, expected, behind_below=self.behind_below, critical_below=self.critical_below
        )
        return Standing(
            campaign_id=self.campaign_id,
            unit_id=unit_id,
            name=name,
            counted=counted,
            target=target,
            expected=expected,
            status=status,
            lagging=not self.in_grace and status in _LAGGING,
            days_left=self.days_left,
            needed_per_day=needed_per_day(counted, target, self.days_left),
            under_review=counters.under_review,
            waiting_too_long=counters.waiting,
            backlog_limit_days=self.backlog_limit_days,
        )


_LAGGING = (PaceStatus.BEHIND, PaceStatus.CRITICAL)  # as PaceReport.lagging says


def standing(
    *,
    campaign_id: str,
    campaign: CampaignDefinedData,
    unit_id: str,
    name: str,
    target: int,
    counters: UnitCounters,
    at: datetime,
    backlog_limit_days: int = DEFAULT_BACKLOG_LIMIT_DAYS,
) -> Standing:
    """Assess one unit with the campaign's pace model and its review backlog."""
    pace = CampaignPace.at(
        campaign_id=campaign_id, campaign=campaign, at=at, backlog_limit_days=backlog_limit_days
    )
    summary = counters.summary(waiting_before=pace.backlog_cutoff)
    return pace.standing(unit_id=unit_id, name=name, target=target, counters=summary)


def _backlog_cutoff(at: datetime, timezone: str, limit_days: int) -> date:
    # Submitted before this local day: waiting more than ``limit_days`` whole days.
    return local_date(at, timezone) - timedelta(days=limit_days)


# Evaluated in this order: a firing CRITICAL silences BEHIND's notices for the same unit
# (Alertmanager's inhibition), so the head reads the worse of the two, once.
RULE_ORDER = (AlertRule.CRITICAL, AlertRule.BEHIND, AlertRule.REVIEW_BACKLOG)


def active_rules(unit: Standing) -> dict[AlertRule, bool]:
    """Which rules hold for the unit: BEHIND also holds for a critical unit (inhibited)."""
    return {
        AlertRule.CRITICAL: unit.lagging and unit.status is PaceStatus.CRITICAL,
        AlertRule.BEHIND: unit.lagging,
        AlertRule.REVIEW_BACKLOG: unit.waiting_too_long > 0,
    }
