"""Token buckets: how many registration requests one API token may make, and how fast. Pure:
the caller passes the time (monotonic seconds)."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class Bucket:
    """One token's allowance: ``level`` requests may be made now; it refills at ``rate`` a
    second up to ``burst``."""

    level: float
    updated: float


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go ahead, and if not, how long until it could."""

    allowed: bool
    retry_after_seconds: float = 0.0


class TokenBuckets:
    """A bucket per key (an API token's id), created full on first use.

    Keys not seen for long are forgotten once more than ``max_keys`` are held: a forgotten
    bucket would have refilled to full anyway after ``burst / rate`` seconds.
    """

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be above 0 and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str, now: float) -> Verdict:
        """Spend one request of ``key``'s allowance at ``now``, if there is one."""
        bucket = self._buckets.pop(key, None) or Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.level = min(float(self.burst), bucket.level + elapsed * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.level >= 1.0:
            bucket.level -= 1.0
            return Verdict(True)
        return Verdict(False, (1.0 - bucket.level) / self.rate)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, never 0 (a client told 0 would retry at once)."""
    return str(max(1, math.ceil(seconds)))
