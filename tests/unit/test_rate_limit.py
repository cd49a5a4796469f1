"""The token buckets behind the registration rate limit (pure: the tests pass the time)."""

from __future__ import annotations

import pytest

from services.submission.domain.rate_limit import TokenBuckets, retry_after_header


def test_a_new_key_may_spend_its_whole_burst_at_once_and_no_more() -> None:
    buckets = TokenBuckets(rate=1.0, burst=3)

    verdicts = [buckets.take("t", now=0.0) for _ in range(4)]

    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].retry_after_seconds == pytest.approx(1.0)


def test_the_allowance_refills_at_the_rate_up_to_the_burst() -> None:
    buckets = TokenBuckets(rate=2.0, burst=2)
    for _ in range(2):
        buckets.take("t", now=0.0)

    assert not buckets.take("t", now=0.4).allowed
    assert buckets.take("t", now=0.5).allowed
    assert [buckets.take("t", now=100.0).allowed for _ in range(3)] == [True, True, False]


def test_keys_have_their_own_buckets() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1)
    buckets.take("a", now=0.0)

    assert not buckets.take("a", now=0.0).allowed
    assert buckets.take("b", now=0.0).allowed


def test_the_least_recently_used_key_is_forgotten_beyond_max_keys() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        buckets.take(key, now=0.0)

    assert buckets.take("a", now=0.0).allowed  # forgotten, so full again
    assert not buckets.take("c", now=0.0).allowed


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert [retry_after_header(s) for s in (0.0, 0.2, 1.0, 1.01)] == ["1", "1", "1", "2"]


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBuckets(rate=0, burst=1)
