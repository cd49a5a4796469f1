"""The retry schedule of deliveries: exponential backoff, capped, jittered by the caller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.retry import MAX_ATTEMPTS, gives_up, next_attempt_delay

jitters = st.floats(min_value=0, max_value=1, exclude_max=True)


def _seconds(attempt: int, jitter: float = 0.0, **kwargs: float) -> float:
    return next_attempt_delay(attempt, jitter=jitter, **kwargs).total_seconds()


def test_first_retry_waits_the_base_delay() -> None:
    assert next_attempt_delay(1, jitter=0) == timedelta(seconds=30)


def test_delay_doubles_with_each_attempt() -> None:
    assert [_seconds(n) for n in range(1, 6)] == [30, 60, 120, 240, 480]


def test_delay_stops_growing_at_the_cap() -> None:
    assert _seconds(8) == 3600
    assert _seconds(11) == 3600


def test_delay_parameters_can_be_chosen() -> None:
    assert _seconds(3, base_seconds=10, factor=3, cap_seconds=60) == 60
    assert _seconds(2, base_seconds=10, factor=3, cap_seconds=60) == 30


def test_jitter_takes_up_to_half_of_the_delay_off() -> None:
    assert _seconds(2, jitter=0.5) == 45
    assert _seconds(2, jitter=0.999) > 30


def test_a_huge_attempt_number_waits_the_cap_without_overflow() -> None:
    assert _seconds(10_000) == 3600


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        next_attempt_delay(attempt, jitter=0)


@pytest.mark.parametrize("jitter", [-0.1, 1.0, 2.0])
def test_jitter_outside_zero_to_one_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        next_attempt_delay(1, jitter=jitter)


def test_gives_up_after_the_last_attempt_only() -> None:
    assert not gives_up(MAX_ATTEMPTS - 1)
    assert gives_up(MAX_ATTEMPTS)
    assert gives_up(3, max_attempts=3)


def test_default_schedule_spans_two_and_a_half_to_five_hours() -> None:
    waits = range(1, MAX_ATTEMPTS)  # no wait after the last attempt

    shortest = sum(_seconds(n, jitter=0.999_999) for n in waits)
    longest = sum(_seconds(n) for n in waits)

    assert 2.5 * 3600 <= shortest < longest <= 5.1 * 3600


@given(attempt=st.integers(1, 200), jitter=jitters)
def test_delay_never_shrinks_as_attempts_grow(attempt: int, jitter: float) -> None:
    assert _seconds(attempt, jitter) <= _seconds(attempt + 1, jitter)


@given(attempt=st.integers(1, 200), jitter=jitters)
def test_delay_stays_between_half_the_backoff_and_the_cap(attempt: int, jitter: float) -> None:
    backoff = min(30 * 2 ** (attempt - 1), 3600)

    assert backoff / 2 <= _seconds(attempt, jitter) <= backoff
