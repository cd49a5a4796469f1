"""The one clock: real, fixed, offset and sped up, and which one the settings ask for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.clock import FixedClock, SimulatedClock, SystemClock, clock_from_settings
from shared.settings import CommonSettings

# 27 April 2022, 08:00 in Hà Nội: the morning letter 1335/LĐLĐ launched the Đắk Lắk campaign.
LAUNCH = datetime(2022, 4, 27, 8, tzinfo=timezone(timedelta(hours=7)))
REAL = datetime(2026, 1, 5, 12, tzinfo=UTC)


def test_the_system_clock_reads_the_real_time_in_utc() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()

    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_a_fixed_clock_stays_put_and_answers_utc() -> None:
    clock = FixedClock(LAUNCH)

    assert clock.now() == clock.now() == datetime(2022, 4, 27, 1, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_a_fixed_clock_moves_only_when_advanced_or_set() -> None:
    clock = FixedClock(LAUNCH)

    clock.advance(timedelta(days=34, hours=15))
    assert clock.now() == datetime(2022, 5, 31, 16, tzinfo=UTC)
    clock.set(LAUNCH - timedelta(days=1))
    assert clock.now() == LAUNCH - timedelta(days=1)


def test_a_clock_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2022, 4, 27, 8))
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2022, 4, 27, 8))


def test_an_offset_clock_starts_at_its_instant_and_keeps_real_pace() -> None:
    real = FixedClock(REAL)
    clock = SimulatedClock(LAUNCH, real=real)

    assert clock.now() == LAUNCH
    real.advance(timedelta(minutes=90))
    assert clock.now() == LAUNCH + timedelta(minutes=90)
    assert clock.now().tzinfo is UTC


def test_a_sped_up_clock_replays_the_35_day_campaign_in_50_minutes_at_1000x() -> None:
    real = FixedClock(REAL)
    clock = SimulatedClock(LAUNCH, speed=1000, real=real)

    real.advance(timedelta(minutes=50, seconds=24))
    assert clock.now() == LAUNCH + timedelta(days=35)


def test_a_simulated_clock_needs_a_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimulatedClock(LAUNCH, speed=0)


def test_the_default_settings_give_the_real_clock() -> None:
    assert isinstance(clock_from_settings(CommonSettings()), SystemClock)


def test_settings_with_a_start_give_a_clock_from_that_instant() -> None:
    real = FixedClock(REAL)
    settings = CommonSettings(clock_start="2022-04-27T08:00:00+07:00", clock_speed=60)

    clock = clock_from_settings(settings, real=real)
    real.advance(timedelta(minutes=1))

    assert clock.now() == LAUNCH + timedelta(hours=1)


def test_settings_with_speed_zero_give_a_fixed_clock_at_the_start() -> None:
    settings = CommonSettings(clock_start=LAUNCH, clock_speed=0)

    clock = clock_from_settings(settings)

    assert isinstance(clock, FixedClock)
    assert clock.now() == LAUNCH


def test_settings_with_a_speed_and_no_start_speed_up_from_the_real_time() -> None:
    real = FixedClock(REAL)
    clock = clock_from_settings(CommonSettings(clock_speed=24), real=real)

    real.advance(timedelta(hours=1))

    assert clock.now() == REAL + timedelta(days=1)


def test_the_clock_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGKIEN_CLOCK_START", "2022-04-27T08:00:00+07:00")
    monkeypatch.setenv("SANGKIEN_CLOCK_SPEED", "0")

    assert clock_from_settings(CommonSettings()).now() == LAUNCH


@pytest.mark.parametrize(
    ("field", "value"),
    [("clock_start", "2022-04-27T08:00:00"), ("clock_speed", -1)],
)
def test_settings_refuse_a_naive_start_or_a_negative_speed(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        CommonSettings(**{field: value})


def test_clocks_given_one_anchor_agree_whenever_they_were_built() -> None:
    real = FixedClock(REAL)
    first = SimulatedClock(LAUNCH, speed=600, anchor=REAL, real=real)
    real.advance(timedelta(seconds=5))  # a second process starts five seconds later
    second = SimulatedClock(LAUNCH, speed=600, anchor=REAL, real=real)

    assert first.now() == second.now() == LAUNCH + timedelta(minutes=50)


def test_a_clock_stands_at_its_start_until_its_anchor() -> None:
    real = FixedClock(REAL)
    clock = SimulatedClock(LAUNCH, speed=600, anchor=REAL + timedelta(minutes=1), real=real)

    assert clock.now() == LAUNCH
    real.advance(timedelta(minutes=1, seconds=6))
    assert clock.now() == LAUNCH + timedelta(hours=1)


def test_settings_with_an_anchor_give_one_time_to_every_process() -> None:
    real = FixedClock(REAL + timedelta(seconds=10))
    settings = CommonSettings(clock_start=LAUNCH, clock_speed=360, clock_anchor=REAL)

    assert clock_from_settings(settings, real=real).now() == LAUNCH + timedelta(hours=1)
