"""Where a unit stands and which rules hold, on the source case: Đắk Lắk, 27 April to 31 May
2022 (Asia/Ho_Chi_Minh), 2,500 initiatives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from notifier_samples import school as unit

from services.notifier.domain.rules import (
    DEFAULT_BACKLOG_LIMIT_DAYS,
    RULE_ORDER,
    Standing,
    active_rules,
    standing,
)
from shared.counters import UnitCounters
from shared.events import AlertRule, CampaignDefinedData, CountedStatus, PacePoint
from shared.pace import PaceStatus

DAK_LAK = CampaignDefinedData(
    name="Đợt cao điểm 40 ngày “01 triệu sáng kiến”",
    starts_on=date(2022, 4, 27),
    ends_on=date(2022, 5, 31),
    eligible_from=date(2022, 1, 8),
    eligible_to=date(2022, 5, 31),
)
# Peak weeks at the end: 52.5% of the target expected after 80% of the time (28 of 35 days).
LATE_PEAK = [
    PacePoint(elapsed=0.0, expected=0.0),
    PacePoint(elapsed=0.8, expected=0.525),
    PacePoint(elapsed=1.0, expected=1.0),
]


def hanoi(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given in Vietnam's local time (UTC+7)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def assess_unit(
    counters: UnitCounters,
    *,
    at: datetime,
    target: int = 2500,
    campaign: CampaignDefinedData = DAK_LAK,
    **kwargs: int,
) -> Standing:
    """The province's standing in the Đắk Lắk campaign at ``at``."""
    return standing(
        campaign_id="dak-lak-2022",
        campaign=campaign,
        unit_id="ldld-dak-lak",
        name="LĐLĐ tỉnh Đắk Lắk",
        target=target,
        counters=counters,
        at=at,
        **kwargs,
    )


def test_the_province_behind_at_mid_campaign_has_the_numbers_a_head_acts_on() -> None:
    result = assess_unit(UnitCounters(registered=1300, valid=900), at=hanoi(date(2022, 5, 14)))

    assert (result.counted, result.target) == (900, 2500)
    assert result.expected == pytest.approx(2500 * 17 / 35)
    assert result.status is PaceStatus.BEHIND
    assert result.lagging
    assert result.gap == 315  # 1214.3 expected - 900, rounded up
    assert (result.days_left, result.needed_per_day) == (18, 89)
    assert result.percentage == 36


def test_the_issue_example_comes_out_of_a_late_peak_curve() -> None:
    campaign = DAK_LAK.model_copy(update={"pace_curve": LATE_PEAK})

    result = assess_unit(
        UnitCounters(valid=12), at=hanoi(date(2022, 5, 25)), target=40, campaign=campaign
    )

    assert result.expected == pytest.approx(21)
    assert result.gap == 9
    assert (result.days_left, result.needed_per_day) == (7, 4)
    assert result.percentage == 30
    assert result.status is PaceStatus.BEHIND


def test_valid_initiatives_count_by_default() -> None:
    result = assess_unit(UnitCounters(registered=1300, valid=900), at=hanoi(date(2022, 5, 14)))

    assert result.counted == 900


def test_registered_initiatives_count_when_the_campaign_says_so() -> None:
    campaign = DAK_LAK.model_copy(update={"counts": CountedStatus.REGISTERED})

    result = assess_unit(
        UnitCounters(registered=1300, valid=900), at=hanoi(date(2022, 5, 14)), campaign=campaign
    )

    assert result.counted == 1300
    assert result.status is PaceStatus.ON_TRACK
    assert not result.lagging


def test_the_launch_day_is_in_the_grace_period_so_nobody_is_lagging() -> None:
    result = assess_unit(UnitCounters(valid=0), at=hanoi(date(2022, 4, 28), 8))

    assert result.status is PaceStatus.CRITICAL
    assert not result.lagging


def test_the_backlog_under_review_is_carried_beside_the_count() -> None:
    result = assess_unit(UnitCounters(valid=900, under_review=672), at=hanoi(date(2022, 5, 14)))

    assert result.under_review == 672


BACKLOG = {"2022-05-02": 5, "2022-05-03": 7, "2022-05-09": 3}


def test_initiatives_waiting_more_than_seven_local_days_are_waiting_too_long() -> None:
    counters = UnitCounters(under_review=15, backlog_by_day=BACKLOG)

    result = assess_unit(counters, at=hanoi(date(2022, 5, 10), 10))

    assert result.waiting_too_long == 5  # 2 May waited 8 days; 3 May only 7
    assert result.backlog_limit_days == DEFAULT_BACKLOG_LIMIT_DAYS == 7


def test_the_backlog_limit_counts_the_campaigns_local_days_not_utc_days() -> None:
    counters = UnitCounters(under_review=15, backlog_by_day=BACKLOG)
    at = datetime(2022, 5, 10, 23, 30, tzinfo=UTC)  # already 11 May, 06:30, in Vietnam

    assert assess_unit(counters, at=at).waiting_too_long == 12


def test_the_backlog_limit_can_be_chosen() -> None:
    counters = UnitCounters(under_review=15, backlog_by_day=BACKLOG)

    result = assess_unit(counters, at=hanoi(date(2022, 5, 10), 10), backlog_limit_days=3)

    assert result.waiting_too_long == 12
    assert result.backlog_limit_days == 3


def test_gap_rounds_up_to_a_whole_initiative() -> None:
    assert unit(expected=21.0).gap == 9
    assert unit(expected=21.4).gap == 10


def test_gap_is_zero_for_a_unit_ahead_of_pace() -> None:
    assert unit(counted=30, expected=21.0).gap == 0


def test_a_lagging_unit_is_never_said_to_be_zero_short() -> None:
    tiny = assess_unit(UnitCounters(), at=hanoi(date(2022, 5, 11)), target=1)

    assert tiny.lagging and tiny.status is PaceStatus.CRITICAL
    assert tiny.gap >= 1


def test_percentage_is_counted_over_target() -> None:
    assert unit(counted=696, target=2500).percentage == pytest.approx(27.84)


def test_percentage_is_zero_without_a_target() -> None:
    assert unit(counted=5, target=0).percentage == 0


def test_a_behind_unit_raises_behind_only() -> None:
    assert active_rules(unit()) == {
        AlertRule.CRITICAL: False,
        AlertRule.BEHIND: True,
        AlertRule.REVIEW_BACKLOG: False,
    }


def test_a_critical_unit_raises_critical_and_behind() -> None:
    rules = active_rules(unit(counted=5, status=PaceStatus.CRITICAL))

    assert rules[AlertRule.CRITICAL]
    assert rules[AlertRule.BEHIND]


def test_a_critical_status_in_the_grace_period_raises_nothing() -> None:
    rules = active_rules(unit(counted=0, status=PaceStatus.CRITICAL, lagging=False))

    assert not any(rules.values())


def test_an_on_track_unit_raises_nothing() -> None:
    rules = active_rules(unit(counted=20, status=PaceStatus.ON_TRACK, lagging=False))

    assert not any(rules.values())


def test_initiatives_waiting_too_long_raise_the_backlog_rule_even_on_track() -> None:
    rules = active_rules(unit(status=PaceStatus.ON_TRACK, lagging=False, waiting_too_long=1))

    assert rules == {
        AlertRule.CRITICAL: False,
        AlertRule.BEHIND: False,
        AlertRule.REVIEW_BACKLOG: True,
    }


def test_critical_is_evaluated_before_behind_so_it_can_inhibit_it() -> None:
    assert RULE_ORDER == (AlertRule.CRITICAL, AlertRule.BEHIND, AlertRule.REVIEW_BACKLOG)
    assert set(RULE_ORDER) == set(AlertRule)
