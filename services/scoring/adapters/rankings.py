"""Rankings kept current: a parent's children, each emulation cluster and each level, by
percentage of the unit's own target, by initiatives per 100 members, and by distinct people.

Scores are recomputed inside Redis from the counters as they are at that moment, for every unit
a batch touched and for a unit whose target or members changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib.resources import files

from redis.asyncio import Redis

from shared.counters import CounterKeys, RegistryKeys
from shared.events import CampaignDefinedData
from shared.redis import register_script

_LUA = (
    files("services.scoring.adapters").joinpath("update_rankings.lua").read_text(encoding="utf-8")
)
METRICS = ("pct", "per100", "people")
GROUPINGS = {"children": "ch", "cluster": "cl", "level": "lv"}


class Rankings:
    """Re-scores units of a campaign in its rankings."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._update = register_script(redis, _LUA)
        self._counts: dict[str, str] = {}

    async def rescore(self, campaign_id: str, unit_ids: Iterable[str]) -> None:
        """Recompute the scores of ``unit_ids`` (unknown units are left out)."""
        ids = sorted(set(unit_ids))
        if not ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for unit_id in ids:
            pipe.hgetall(RegistryKeys.unit(unit_id))
        metas = await pipe.execute()
        units = [
            {
                "u": unit_id,
                "p": meta.get("parent_id", ""),
                "c": meta.get("emulation_cluster", ""),
                "l": meta.get("level", ""),
                "m": int(meta.get("members") or 0),
            }
            for unit_id, meta in zip(ids, metas, strict=True)
            if meta
        ]
        if units:
            counts = await self._what_counts(campaign_id)
            await self._update(args=[CounterKeys(campaign_id).prefix, counts, json.dumps(units)])

    async def _what_counts(self, campaign_id: str) -> str:
        if campaign_id not in self._counts:
            definition = await self.redis.hget(RegistryKeys.campaign(campaign_id), "definition")
            if definition is None:
                return "valid"  # the default, until the campaign's definition arrives
            self._counts[campaign_id] = CampaignDefinedData.model_validate_json(
                definition
            ).counts.value
        return self._counts[campaign_id]


async def rank_of(
    redis: Redis, campaign_id: str, unit_id: str, metric: str, grouping: str, group: str
) -> tuple[int | None, int]:
    """The unit's rank (1 = best) in a ranking, and how many units it ranks."""
    key = CounterKeys(campaign_id).ranking(metric, GROUPINGS[grouping], group)
    rank = await redis.zrevrank(key, unit_id)
    return (None if rank is None else int(rank) + 1), int(await redis.zcard(key))


async def leaderboard(
    redis: Redis, campaign_id: str, metric: str, grouping: str, group: str, *, limit: int
) -> list[tuple[str, float]]:
    """The best ``limit`` units of a ranking with their scores."""
    key = CounterKeys(campaign_id).ranking(metric, GROUPINGS[grouping], group)
    return [
        (member, float(score))
        for member, score in await redis.zrevrange(key, 0, limit - 1, withscores=True)
    ]
