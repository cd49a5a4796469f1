"""Reading the counters: what a progress query or a lag evaluation needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from shared.counters.keys import CounterKeys

COUNTER_FIELDS = (
    "registered",
    "under_review",
    "valid",
    "rejected",
    "withdrawn",
    "benefit_vnd",
    "people",
)


@dataclass(frozen=True)
class UnitCounters:
    """A unit's totals in a campaign (its whole subtree)."""

    registered: int = 0  # submitted and not withdrawn
    under_review: int = 0
    valid: int = 0
    rejected: int = 0
    withdrawn: int = 0
    benefit_vnd: int = 0
    people: int = 0  # distinct people who submitted

    def counted(self, counts: str) -> int:
        """What counts toward the target: ``valid`` (the default) or ``registered``."""
        return self.registered if counts == "registered" else self.valid


async def read_unit(redis: Redis, campaign_id: str, unit_id: str) -> UnitCounters:
    """A unit's totals (zeros when nothing was registered yet)."""
    values = await redis.hmget(CounterKeys(campaign_id).unit(unit_id), list(COUNTER_FIELDS))
    return UnitCounters(*(int(v or 0) for v in values))


async def read_backlog(redis: Redis, campaign_id: str, unit_id: str) -> tuple[int, datetime | None]:
    """How many initiatives wait for review in the subtree, and since when the oldest."""
    key = CounterKeys(campaign_id).backlog(unit_id)
    count = await redis.zcard(key)
    oldest = await redis.zrange(key, 0, 0, withscores=True)
    since = datetime.fromtimestamp(float(oldest[0][1]), UTC) if oldest else None
    return int(count), since


async def read_series(redis: Redis, key: str) -> dict[str, int]:
    """A hash of counts (by day, week, field or category), sorted by its keys."""
    values: dict[str, str] = await redis.hgetall(key)  # type: ignore[assignment]  # decoded
    return {name: int(values[name]) for name in sorted(values) if int(values[name]) != 0}
