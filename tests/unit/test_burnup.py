"""The burn-up of a unit on the Đắk Lắk campaign (27 April to 31 May 2022): actual per day,
the pace model's expected count, the projection to the end date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.scoring.domain.burnup import burnup
from services.scoring.domain.progress import progress
from shared.counters import UnitCounters
from shared.events import CampaignDefinedData, CountedStatus, PacePoint

STARTS_ON, ENDS_ON = date(2022, 4, 27), date(2022, 5, 31)  # 35 days
CAMPAIGN = CampaignDefinedData(
    name="Đợt cao điểm 40 ngày",
    starts_on=STARTS_ON,
    ends_on=ENDS_ON,
    eligible_from=date(2022, 1, 8),
    eligible_to=ENDS_ON,
    counts=CountedStatus.REGISTERED,
)
BY_DAY = {"2022-04-27": 2, "2022-05-02": 3, "2022-05-20": 1}


def hanoi(day: date, hour: int = 0) -> datetime:
    """An instant in Vietnam's local time (UTC+7)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=7)


MID = hanoi(date(2022, 5, 20), 8)  # 23⅓ of 35 days: two thirds of the campaign


def test_one_point_a_day_from_the_first_day_to_the_last() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=20, at=MID)

    assert len(chart.points) == 35
    assert (chart.points[0].day, chart.points[-1].day) == (STARTS_ON, ENDS_ON)
    assert chart.today == date(2022, 5, 20)


def test_actual_is_cumulative_up_to_today_and_unknown_after() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=20, at=MID)
    actual = {p.day.isoformat(): p.actual for p in chart.points}

    assert (actual["2022-04-27"], actual["2022-05-01"], actual["2022-05-02"]) == (2, 2, 5)
    assert actual["2022-05-20"] == 6
    assert actual["2022-05-21"] is None and actual["2022-05-31"] is None


def test_expected_follows_the_pace_model_and_agrees_with_progress() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=20, at=MID)
    counters = UnitCounters(registered=6, by_day=BY_DAY)
    now = progress(counters, CAMPAIGN, assigned_target=20, own_target=None, at=MID)

    # Linear: by the end of day n, n/35 of the target.
    assert chart.points[0].expected == round(20 / 35, 2)
    assert chart.points[6].expected == 4.0
    assert chart.points[-1].expected == 20.0
    assert chart.expected_now == round(20 * 70 / 105, 2)  # 23⅓ / 35 = 2/3
    assert chart.expected_now == round(now.expected_percentage / 100 * 20, 2)


def test_a_pace_curve_is_followed_too() -> None:
    late_peak = CAMPAIGN.model_copy(
        update={
            "pace_curve": [
                PacePoint(elapsed=0, expected=0),
                PacePoint(elapsed=0.5, expected=0.3),
                PacePoint(elapsed=1, expected=1),
            ]
        }
    )

    chart = burnup({}, 0, late_peak, target=100, at=MID)

    # Half time falls at noon of the 18th day (13 May): 30% of the target by then.
    assert chart.points[16].expected is not None and chart.points[16].expected < 30
    assert chart.points[17].expected is not None and chart.points[17].expected > 30
    assert chart.points[-1].expected == 100.0


def test_the_projection_starts_at_todays_count_and_ends_at_the_projected_total() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=20, at=MID)
    counters = UnitCounters(registered=6, by_day=BY_DAY)
    now = progress(counters, CAMPAIGN, assigned_target=20, own_target=None, at=MID)
    projected = {p.day.isoformat(): p.projected for p in chart.points}

    assert projected["2022-05-19"] is None
    assert projected["2022-05-20"] == 6.0
    assert projected["2022-05-21"] == round(6 / (70 / 105) * 25 / 35, 1)
    assert projected["2022-05-31"] == chart.projected_total == now.projected_total == 9.0


def test_the_recent_rate_projection_is_given_beside_it() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=20, at=MID)

    # One registration in the last 6⅓ days, 11⅔ days left.
    assert chart.projected_recent == round(6 + 1 / (6 + 1 / 3) * (11 + 2 / 3), 1)


def test_without_a_target_there_is_no_expected_line() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=None, at=MID)

    assert all(p.expected is None for p in chart.points)
    assert chart.expected_now is None
    assert chart.projected_total == 9.0


def test_before_the_start_nothing_is_known_yet() -> None:
    chart = burnup({}, 0, CAMPAIGN, target=20, at=hanoi(date(2022, 4, 20)))

    assert all(p.actual is None and p.projected is None for p in chart.points)
    assert chart.projected_total == 0.0 and chart.expected_now == 0.0


def test_after_the_end_every_day_is_actual_and_nothing_is_projected() -> None:
    chart = burnup(BY_DAY, 6, CAMPAIGN, target=20, at=hanoi(date(2022, 6, 5)))

    assert [p.actual for p in chart.points][-1] == 6
    assert all(p.projected is None for p in chart.points)
    assert chart.projected_total == 6.0


def test_a_stock_registered_before_the_start_is_where_the_line_starts() -> None:
    # Đắk Lắk had 696 at launch: the line starts at 696, not at 0.
    chart = burnup({"2022-04-20": 696, "2022-04-27": 4}, 700, CAMPAIGN, target=2500, at=MID)

    assert chart.points[0].actual == 700
    assert chart.points[-1].expected == 2500.0


def test_a_campaign_counting_valid_ones_keeps_registrations_as_the_line() -> None:
    valid_only = CAMPAIGN.model_copy(update={"counts": CountedStatus.VALID})

    chart = burnup(BY_DAY, 2, valid_only, target=20, at=MID)

    assert chart.counts == "valid"
    assert chart.points[23].actual == 6  # registered by today
    assert chart.counted == 2 and chart.points[23].projected == 2.0  # what counts


campaign_days = st.integers(min_value=0, max_value=34).map(lambda n: STARTS_ON + timedelta(n))


@given(
    st.dictionaries(campaign_days.map(date.isoformat), st.integers(0, 50), max_size=35),
    st.integers(min_value=0, max_value=35 * 24 - 1).map(
        lambda hours: hanoi(STARTS_ON) + timedelta(hours=hours)
    ),
)
def test_lines_never_go_down_and_today_holds_everything_so_far(
    by_day: dict[str, int], at: datetime
) -> None:
    counted = sum(by_day.values())
    chart = burnup(by_day, counted, CAMPAIGN, target=100, at=at)
    actual = [p.actual for p in chart.points if p.actual is not None]
    expected = [p.expected or 0 for p in chart.points]
    projected = [p.projected for p in chart.points if p.projected is not None]

    assert actual == sorted(actual) and expected == sorted(expected)
    assert projected == sorted(projected)
    today = chart.today.isoformat()
    assert actual[-1] == sum(n for day, n in by_day.items() if day <= today)
