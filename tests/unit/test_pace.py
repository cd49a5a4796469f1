"""The pace model on the source case: Đắk Lắk, 27 April to 31 May 2022, 2,500 initiatives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.pace import (
    PaceStatus,
    assess,
    campaign_bounds,
    curve_fraction,
    days_left,
    elapsed_fraction,
    expected_count,
    in_grace,
    local_date,
    needed_per_day,
    pace_status,
    projected_recent,
    projected_total,
)

TZ = "Asia/Ho_Chi_Minh"
STARTS_ON = date(2022, 4, 27)  # letter 1335/LĐLĐ
ENDS_ON = date(2022, 5, 31)  # the end of phase 1
TARGET = 2500
AT_LAUNCH = 696
CAMPAIGN = {"starts_on": STARTS_ON, "ends_on": ENDS_ON, "timezone": TZ}
# Peak weeks late in the campaign: 30% of the target by half time, the rest after.
LATE_PEAK = [(0.0, 0.0), (0.5, 0.3), (1.0, 1.0)]


def hanoi(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given in Vietnam's local time (UTC+7, no daylight saving)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def test_the_campaign_runs_35_local_days_from_midnight_in_vietnam() -> None:
    start, end = campaign_bounds(STARTS_ON, ENDS_ON, TZ)

    assert start == datetime(2022, 4, 26, 17, tzinfo=UTC)
    assert end == datetime(2022, 5, 31, 17, tzinfo=UTC)
    assert end - start == timedelta(days=35)


def test_dak_lak_at_launch_stands_at_27_84_percent_and_needs_52_a_day() -> None:
    report = assess(AT_LAUNCH, TARGET, at=hanoi(STARTS_ON, 8), **CAMPAIGN)

    assert round(100 * report.counted / report.target, 2) == 27.84
    assert report.elapsed == pytest.approx(8 / (35 * 24))
    assert report.status is PaceStatus.ON_TRACK
    assert report.in_grace
    assert report.days_left == 35
    assert report.needed_per_day == 52  # 1,804 left over 35 days is 51.5
    assert not report.lagging


def test_expected_is_linear_in_time_by_default() -> None:
    half = hanoi(date(2022, 5, 14), 12)  # 17.5 of 35 days

    report = assess(AT_LAUNCH, TARGET, at=half, **CAMPAIGN)

    assert report.expected_share == pytest.approx(0.5)
    assert report.expected == pytest.approx(1250)
    assert report.gap == pytest.approx(1250 - 696)


def test_a_unit_that_stays_at_its_launch_count_falls_behind_then_critical() -> None:
    def status_on(day: date) -> PaceStatus:
        return assess(AT_LAUNCH, TARGET, at=hanoi(day), **CAMPAIGN).status

    assert status_on(date(2022, 5, 4)) is PaceStatus.ON_TRACK  # 696 of 500 expected
    assert status_on(date(2022, 5, 14)) is PaceStatus.BEHIND  # 696 of 1,214: 57%
    assert status_on(date(2022, 5, 17)) is PaceStatus.CRITICAL  # 696 of 1,429: 49%


def test_a_late_peak_curve_expects_less_early_and_catches_up_at_the_end() -> None:
    assert curve_fraction(0.25, LATE_PEAK) == pytest.approx(0.15)
    assert expected_count(TARGET, 0.5, LATE_PEAK) == pytest.approx(750)
    assert expected_count(TARGET, 0.75, LATE_PEAK) == pytest.approx(1625)
    assert expected_count(TARGET, 1.0, LATE_PEAK) == TARGET


def test_the_same_count_is_on_track_on_a_late_peak_curve_and_behind_on_the_line() -> None:
    half = hanoi(date(2022, 5, 14), 12)

    linear = assess(AT_LAUNCH, TARGET, at=half, **CAMPAIGN)
    late = assess(AT_LAUNCH, TARGET, at=half, curve=LATE_PEAK, **CAMPAIGN)

    assert linear.status is PaceStatus.BEHIND
    assert late.status is PaceStatus.ON_TRACK  # 696 of 750 expected: 93%


def test_a_campaign_sets_its_own_thresholds() -> None:
    # 696 of 750 expected is 92.8%.
    assert pace_status(696, 750) is PaceStatus.ON_TRACK
    assert pace_status(696, 750, behind_below=0.95, critical_below=0.9) is PaceStatus.BEHIND
    assert pace_status(696, 750, behind_below=0.99, critical_below=0.95) is PaceStatus.CRITICAL


def test_at_exactly_the_threshold_a_unit_is_not_below_it() -> None:
    assert pace_status(80, 100) is PaceStatus.ON_TRACK
    assert pace_status(79, 100) is PaceStatus.BEHIND
    assert pace_status(50, 100) is PaceStatus.BEHIND
    assert pace_status(49, 100) is PaceStatus.CRITICAL


def test_nothing_expected_and_nothing_counted_is_not_started() -> None:
    assert pace_status(0, 0) is PaceStatus.NOT_STARTED
    assert assess(0, TARGET, at=hanoi(date(2022, 4, 20)), **CAMPAIGN).status == "not_started"


def test_the_grace_period_is_the_first_tenth_of_the_campaign() -> None:
    grace_ends = hanoi(date(2022, 4, 30), 12)  # 3.5 of 35 days

    def graced(at: datetime) -> bool:
        return assess(0, TARGET, at=at, **CAMPAIGN).in_grace

    assert graced(hanoi(date(2022, 4, 20)))  # before the start
    assert graced(grace_ends - timedelta(minutes=1))
    assert not graced(grace_ends)
    assert not graced(hanoi(date(2022, 6, 1)))


def test_a_campaign_can_shorten_or_drop_the_grace_period() -> None:
    assert in_grace(0.04, 0.05)
    assert not in_grace(0.05, 0.05)
    assert not in_grace(0.0, 0.0)


def test_a_critical_unit_in_the_grace_period_is_not_lagging() -> None:
    day_two = hanoi(date(2022, 4, 28), 12)

    early = assess(0, TARGET, at=day_two, **CAMPAIGN)
    no_grace = assess(0, TARGET, at=day_two, grace_fraction=0.0, **CAMPAIGN)

    assert early.status is PaceStatus.CRITICAL
    assert not early.lagging
    assert no_grace.lagging


# Two weeks in, Đắk Lắk's peak weeks: 20 a day in the first week, 60 a day since, and half a
# day of 60 on 11 May by noon. The 500 of 20 April came before the campaign.
BY_DAY = {"2022-04-20": 500}
BY_DAY |= {(STARTS_ON + timedelta(days=n)).isoformat(): 20 for n in range(7)}
BY_DAY |= {(date(2022, 5, 4) + timedelta(days=n)).isoformat(): 60 for n in range(7)}
BY_DAY["2022-05-11"] = 30
NOON_MAY_11 = hanoi(date(2022, 5, 11), 12)  # 14.5 days in, 20.5 left
COUNTED_MAY_11 = AT_LAUNCH + 7 * 20 + 7 * 60 + 30  # 1,286


def test_the_recent_rate_projects_the_peak_weeks_to_the_end() -> None:
    projected = projected_recent(COUNTED_MAY_11, BY_DAY, at=NOON_MAY_11, **CAMPAIGN)

    # 5 May to noon on 11 May: 390 in 6.5 days is 60 a day, for 20.5 days more.
    assert projected == pytest.approx(1286 + 60 * 20.5)


def test_the_overall_rate_counts_the_launch_stock_as_if_earned_in_the_campaign() -> None:
    report = assess(COUNTED_MAY_11, TARGET, at=NOON_MAY_11, by_day=BY_DAY, **CAMPAIGN)

    # The overall rate says 3,104 and the target is safe; the peak weeks' rate says 2,516.
    assert report.projected_overall == pytest.approx(1286 / (14.5 / 35))
    assert report.projected_recent == pytest.approx(2516)


def test_the_recent_window_starts_no_earlier_than_the_campaign() -> None:
    day_three_noon = hanoi(date(2022, 4, 29), 12)  # 2.5 days in
    by_day = {"2022-04-20": 500, "2022-04-27": 10, "2022-04-28": 10, "2022-04-29": 5}

    projected = projected_recent(721, by_day, at=day_three_noon, **CAMPAIGN)

    assert projected == pytest.approx(721 + 25 / 2.5 * 32.5)


def test_the_recent_window_is_as_many_days_as_asked() -> None:
    two_weeks = projected_recent(COUNTED_MAY_11, BY_DAY, at=NOON_MAY_11, recent_days=14, **CAMPAIGN)

    # 28 April to noon on 11 May: 6 days of 20, 7 of 60 and 30, 570 in 13.5 days.
    assert two_weeks == pytest.approx(1286 + 570 / 13.5 * 20.5)


def test_there_is_no_recent_projection_before_the_start_or_without_days() -> None:
    before = hanoi(date(2022, 4, 26), 23)

    assert projected_recent(696, BY_DAY, at=before, **CAMPAIGN) is None
    assert assess(696, TARGET, at=NOON_MAY_11, **CAMPAIGN).projected_recent is None
    with pytest.raises(ValueError, match="recent_days"):
        projected_recent(696, BY_DAY, at=NOON_MAY_11, recent_days=0, **CAMPAIGN)


def test_after_the_end_both_projections_are_the_final_count() -> None:
    report = assess(2480, TARGET, at=hanoi(date(2022, 6, 3)), by_day=BY_DAY, **CAMPAIGN)

    assert report.projected_overall == report.projected_recent == 2480


def test_the_overall_projection_is_zero_before_the_start() -> None:
    assert projected_total(696, 0.0) == 0.0
    assert projected_total(696, 0.5) == 1392


def test_days_left_count_today_and_the_last_day() -> None:
    assert days_left(STARTS_ON, ENDS_ON) == 35
    assert days_left(date(2022, 5, 30), ENDS_ON) == 2
    assert days_left(ENDS_ON, ENDS_ON) == 1
    assert days_left(date(2022, 6, 1), ENDS_ON) == 0


def test_before_the_start_the_whole_campaign_is_left() -> None:
    assert days_left(date(2022, 4, 1), ENDS_ON, starts_on=STARTS_ON) == 35


def test_the_last_day_ends_at_local_midnight_not_utc_midnight() -> None:
    late_on_31_may = datetime(2022, 5, 31, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam
    just_after = datetime(2022, 5, 31, 17, 0, tzinfo=UTC)  # 1 June, 00:00

    assert local_date(late_on_31_may, TZ) == ENDS_ON
    assert assess(2450, TARGET, at=late_on_31_may, **CAMPAIGN).days_left == 1
    assert assess(2450, TARGET, at=just_after, **CAMPAIGN).days_left == 0


def test_the_daily_need_rounds_up_and_is_all_that_is_left_on_the_last_day() -> None:
    assert needed_per_day(2399, TARGET, days=2) == 51  # 101 over 2 days
    assert needed_per_day(2450, TARGET, days=1) == 50
    assert assess(2450, TARGET, at=hanoi(ENDS_ON, 9), **CAMPAIGN).needed_per_day == 50


def test_a_reached_target_needs_nothing_more_even_after_the_end() -> None:
    assert needed_per_day(TARGET, TARGET, days=10) == 0
    assert needed_per_day(2600, TARGET, days=0) == 0


def test_a_target_missed_at_the_end_has_no_daily_need() -> None:
    report = assess(2450, TARGET, at=hanoi(date(2022, 6, 1), 8), **CAMPAIGN)

    assert report.days_left == 0
    assert report.needed_per_day is None


def test_a_unit_without_a_target_expects_nothing() -> None:
    report = assess(12, 0, at=NOON_MAY_11, **CAMPAIGN)

    assert (report.expected, report.status, report.needed_per_day) == (0, "on_track", 0)


@st.composite
def curves(draw: st.DrawFn) -> list[tuple[float, float]] | None:
    """None (linear) or a curve as the campaign validator accepts it."""
    if draw(st.booleans()):
        return None
    fraction = st.floats(0.01, 0.99, allow_nan=False)
    xs = sorted(set(draw(st.lists(fraction, max_size=5))))
    ys = sorted(draw(st.lists(fraction, min_size=len(xs), max_size=len(xs))))
    return [(0.0, 0.0), *zip(xs, ys, strict=True), (1.0, 1.0)]


instants = st.datetimes(
    min_value=datetime(2022, 4, 1), max_value=datetime(2022, 7, 1), timezones=st.just(UTC)
)


@given(
    target=st.integers(0, 1_000_000),
    curve=curves(),
    first=instants,
    second=instants,
)
def test_expected_grows_with_time_from_zero_to_the_target(
    target: int, curve: list[tuple[float, float]] | None, first: datetime, second: datetime
) -> None:
    earlier, later = sorted((first, second))
    start, end = campaign_bounds(STARTS_ON, ENDS_ON, TZ)

    before = expected_count(target, elapsed_fraction(earlier, start, end), curve)
    after = expected_count(target, elapsed_fraction(later, start, end), curve)

    tolerance = 1e-9 * max(target, 1)  # interpolation rounds in the last bit
    assert -tolerance <= before <= after + tolerance
    assert after <= target + tolerance
    if later >= end:
        assert after == pytest.approx(target)


@given(counted=st.integers(0, 5000), days=st.integers(1, 35))
def test_the_daily_need_is_the_least_that_reaches_the_target(counted: int, days: int) -> None:
    needed = needed_per_day(counted, TARGET, days)

    assert needed is not None
    assert counted + needed * days >= TARGET
    assert needed == 0 or counted + (needed - 1) * days < TARGET


@given(at=instants, counted=st.integers(0, 5000))
def test_days_left_shrink_by_one_a_local_day_until_zero(at: datetime, counted: int) -> None:
    today = assess(counted, TARGET, at=at, **CAMPAIGN)
    tomorrow = assess(counted, TARGET, at=at + timedelta(days=1), **CAMPAIGN)

    assert 0 <= tomorrow.days_left <= today.days_left <= 35
    assert today.days_left - tomorrow.days_left <= 1
    if today.days_left > 0 and local_date(at, TZ) >= STARTS_ON:
        assert tomorrow.days_left == today.days_left - 1
