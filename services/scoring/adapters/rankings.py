"""Rankings kept current: a parent's children, each emulation cluster and each level, by
percentage of the unit's own target, by initiatives per 100 members, and by distinct people.

The counters' Lua step re-places the events' own units whose score it changes (see
ranking.lua) and queues their ancestors; the refresher here re-places the queued units once a
round (an upper-level union is touched by nearly every step: placing it once a second instead of
once a step is most of the saving). This module also re-places units whose target, members or
groups changed, and every unit after a rebuild, and reads the rankings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.scoring.adapters.directory import UnitDirectory
from services.scoring.adapters.lua import script_source
from shared.counters import CounterKeys, RegistryKeys
from shared.logging import get_logger
from shared.redis import register_script

log = get_logger(__name__)

_LUA = script_source("update_rankings.lua")
METRICS = ("pct", "per100", "people")
GROUPINGS = {"children": "ch", "cluster": "cl", "level": "lv"}


class RankingRefresher:
    """Drains the ranking queues of every campaign, every ``interval`` seconds, until stopped."""

    def __init__(self, redis: Redis, rankings: Rankings, *, interval: float = 1.0) -> None:
        self.redis = redis
        self.rankings = rankings
        self.interval = interval

    async def run(self) -> None:
        """Refresh, sleep, again; Redis trouble is logged and retried next round."""
        while True:
            try:
                await self.refresh_all()
            except (RedisError, OSError) as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Cancelled mid-call, the client answered with a connection error: stop,
                    # or the consumer's stop() waits on this loop for ever (seen under load).
                    raise asyncio.CancelledError from error
                log.warning("rankings.refresh_failed", error=str(error))
            await asyncio.sleep(self.interval)

    async def refresh_all(self) -> None:
        """Place what every campaign's queue holds now; units queued meanwhile wait for the
        next round (so a unit touched by every step is placed once a round)."""
        for campaign_id in sorted(await self.redis.smembers(RegistryKeys.campaigns())):
            waiting = await self.redis.scard(CounterKeys(campaign_id).ranking_queue)
            while waiting > 0:
                placed = await self.rankings.refresh(campaign_id)
                if placed == 0:
                    break
                waiting -= placed


# Units one refresher call places: about 40 ms of Redis for 1,000 upper-level units (each in 9
# rankings) measured during a live stream, and nobody is answered meanwhile; 250 keep it near
# 10 ms, the bound the queries' p99 needs.
REFRESH_UNITS = 250


class Rankings:
    """Re-places units of a campaign in its rankings."""

    def __init__(self, redis: Redis, directory: UnitDirectory | None = None) -> None:
        self.redis = redis
        self.directory = directory or UnitDirectory(redis)
        self._update = register_script(redis, _LUA)

    async def rescore(self, campaign_id: str, unit_ids: Iterable[str]) -> None:
        """Place ``unit_ids`` in every ranking from their counters as they are now (units not
        in the registry are left out), 1000 units a step."""
        ids = sorted(set(unit_ids))
        for start in range(0, len(ids), 1000):
            await self._place(campaign_id, ids[start : start + 1000], "all")

    async def refresh(self, campaign_id: str, *, limit: int = REFRESH_UNITS) -> int:
        """Re-rank up to ``limit`` units of the campaign's ranking queue where their scores
        moved; returns how many units were taken off the queue."""
        queue = CounterKeys(campaign_id).ranking_queue
        ids: list[str] = await self.redis.srandmember(queue, limit)  # type: ignore[assignment]  # decoded
        if ids:
            await self._place(campaign_id, ids, "changed")
        return len(ids)

    async def _place(self, campaign_id: str, ids: list[str], mode: str) -> None:
        keys = CounterKeys(campaign_id)
        await self._update(
            keys=[keys.ranking_queue],
            args=[
                keys.prefix,
                await self.directory.counts(campaign_id),
                mode,
                json.dumps(await self.directory.units(campaign_id, ids)),
                json.dumps(ids),
            ],
        )

    async def rescore_all(self, campaign_id: str) -> int:
        """Re-place every unit of the registry (after a rebuild, or when what counts changed);
        returns how many units were looked at."""
        ids = await self.redis.hkeys(RegistryKeys.facts())
        await self.rescore(campaign_id, ids)
        return len(ids)


async def leaderboard(
    redis: Redis, campaign_id: str, metric: str, grouping: str, group: str, *, limit: int
) -> list[tuple[str, float]]:
    """The best ``limit`` units of a ranking with their scores."""
    key = CounterKeys(campaign_id).ranking(metric, GROUPINGS[grouping], group)
    return [
        (member, float(score))
        for member, score in await redis.zrevrange(key, 0, limit - 1, withscores=True)
    ]
