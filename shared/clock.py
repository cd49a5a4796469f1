"""The one clock every service reads the time from, so that time can be simulated.

Real (the system's time), fixed (one instant, moved only by hand: tests set the day), offset
(real time shifted to start at a given instant) and sped up (starts at a given instant and runs
``speed`` times faster, so the 35 days of the Đắk Lắk campaign replay in 50 minutes at 1,000×).
Every clock answers timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared.settings import CommonSettings


class Clock(Protocol):
    """Where a service reads the current time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


def _utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is refused, since it would silently mean local time."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"the clock needs a timezone-aware instant, not {at.isoformat()}")
    return at.astimezone(UTC)


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The system's current time."""
        return datetime.now(UTC)


class FixedClock:
    """An instant that only moves when told to: for tests, and a simulation at speed 0."""

    def __init__(self, at: datetime) -> None:
        self._at = _utc(at)

    def now(self) -> datetime:
        """The instant last set."""
        return self._at

    def set(self, at: datetime) -> None:
        """Move the clock to ``at`` (backwards too)."""
        self._at = _utc(at)

    def advance(self, delta: timedelta) -> None:
        """Move the clock on by ``delta``."""
        self._at += delta


class SimulatedClock:
    """Reads ``start`` at the real instant ``anchor`` and runs ``speed`` times as fast as the
    real clock from there: speed 1 is real time shifted, speed 60 makes a real minute a
    simulated hour. Before the anchor it stands at ``start``."""

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        *,
        anchor: datetime | None = None,
        real: Clock | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be above 0, not {speed} (a FixedClock stands still)")
        self._start = _utc(start)
        self._speed = speed
        self._real = real if real is not None else SystemClock()
        # Without an anchor each process starts at ``start`` when it starts; processes given
        # one anchor agree on the time (see clock_from_settings).
        self._anchor = _utc(anchor) if anchor is not None else self._real.now()

    @property
    def speed(self) -> float:
        """How many simulated seconds pass in a real one."""
        return self._speed

    def now(self) -> datetime:
        """``start`` plus the real time passed since the anchor, ``speed`` times over."""
        elapsed = max(self._real.now() - self._anchor, timedelta(0))
        return self._start + elapsed * self._speed


def clock_from_settings(settings: CommonSettings, *, real: Clock | None = None) -> Clock:
    """The clock the settings ask for: real by default, simulated from ``clock_start``,
    ``clock_speed`` and ``clock_anchor`` (a speed without a start starts at the real time)."""
    real_clock = real if real is not None else SystemClock()
    if settings.clock_start is None and settings.clock_speed == 1:
        return real_clock
    start = settings.clock_start if settings.clock_start is not None else real_clock.now()
    if settings.clock_speed == 0:
        return FixedClock(start)
    return SimulatedClock(
        start, settings.clock_speed, anchor=settings.clock_anchor, real=real_clock
    )
