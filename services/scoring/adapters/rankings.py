"""Rankings kept current: a parent's children, each emulation cluster and each level, by
percentage of the unit's own target, by initiatives per 100 members, and by distinct people.

The counters' Lua step re-places every unit whose score it changes (see ranking.lua). This
module re-places units whose target, members or groups changed, and every unit after a rebuild,
and reads the rankings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from redis.asyncio import Redis

from services.scoring.adapters.directory import UnitDirectory
from services.scoring.adapters.lua import script_source
from shared.counters import CounterKeys, RegistryKeys
from shared.redis import register_script

_LUA = script_source("update_rankings.lua")
METRICS = ("pct", "per100", "people")
GROUPINGS = {"children": "ch", "cluster": "cl", "level": "lv"}


class Rankings:
    """Re-places units of a campaign in its rankings."""

    def __init__(self, redis: Redis, directory: UnitDirectory | None = None) -> None:
        self.redis = redis
        self.directory = directory or UnitDirectory(redis)
        self._update = register_script(redis, _LUA)

    async def rescore(self, campaign_id: str, unit_ids: Iterable[str]) -> None:
        """Recompute and place the scores of ``unit_ids`` (units not in the registry are left
        out), 1000 units a step."""
        ids = sorted(set(unit_ids))
        counts = await self.directory.counts(campaign_id)
        for start in range(0, len(ids), 1000):
            units = await self.directory.units(campaign_id, ids[start : start + 1000])
            if units:
                await self._update(
                    args=[CounterKeys(campaign_id).prefix, counts, json.dumps(units)]
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
