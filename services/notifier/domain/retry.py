"""When a failed delivery is tried again, and when the notifier stops trying.

With the defaults the delays after attempts 1 to 11 are 30 s, 1, 2, 4, 8, 16 and 32 min, then
an hour (less up to half of each for jitter): twelve attempts spread over two and a half to five
hours, long enough to ride out a mail server's or a receiver's restart or a short outage, short
enough that a lag alert is still news when it arrives.
"""

from __future__ import annotations

import math
from datetime import timedelta

MAX_ATTEMPTS = 12
BASE_SECONDS = 30.0
FACTOR = 2.0
CAP_SECONDS = 3600.0


def next_attempt_delay(
    attempt: int,
    *,
    jitter: float,
    base_seconds: float = BASE_SECONDS,
    factor: float = FACTOR,
    cap_seconds: float = CAP_SECONDS,
) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1 is the first) before the next.

    The delay grows by ``factor`` each attempt from ``base_seconds`` up to ``cap_seconds``, and
    ``jitter`` (drawn by the caller from [0, 1), e.g. ``random.random()``) takes up to half of
    it off: deliveries that failed together in one outage do not all come back in the same
    second, and none comes back sooner than half its backoff.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, not {attempt}")
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter must be in [0, 1), not {jitter}")
    if base_seconds <= 0 or factor < 1 or cap_seconds < base_seconds:
        raise ValueError("need base_seconds > 0, factor >= 1 and cap_seconds >= base_seconds")
    try:
        backoff = base_seconds * factor ** (attempt - 1)
    except OverflowError:
        backoff = math.inf
    return timedelta(seconds=min(backoff, cap_seconds) * (1 - jitter / 2))


def gives_up(attempt: int, *, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Whether a delivery whose attempt number ``attempt`` failed (retryably) is abandoned."""
    return attempt >= max_attempts
