"""Applying initiative events to the Redis counters: one Lua call per campaign and batch."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from shared.counters import CounterKeys, iso_week
from shared.events import InitiativeReviewed, InitiativeSubmitted, InitiativeWithdrawn
from shared.redis import register_script

InitiativeEvent = InitiativeSubmitted | InitiativeReviewed | InitiativeWithdrawn
_LUA = files("services.scoring.adapters").joinpath("apply_batch.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ApplyResult:
    """What a batch did: events applied, duplicates skipped, records at or below the fence."""

    applied: int = 0
    duplicates: int = 0
    fenced: int = 0

    def __add__(self, other: ApplyResult) -> ApplyResult:
        return ApplyResult(
            self.applied + other.applied,
            self.duplicates + other.duplicates,
            self.fenced + other.fenced,
        )


class CounterStore:
    """Writes the counters of every campaign through one registered Lua script."""

    def __init__(self, redis: Redis, *, timezone: str = "Asia/Ho_Chi_Minh") -> None:
        self.redis = redis
        self.zone = ZoneInfo(timezone)
        self._apply = register_script(redis, _LUA)

    async def apply(
        self, topic: str, partition: int, records: Sequence[tuple[int, InitiativeEvent]]
    ) -> ApplyResult:
        """Apply one partition's records (offset, event), grouped by campaign, atomically each."""
        by_campaign: dict[str, list[dict[str, object]]] = defaultdict(list)
        for offset, event in records:
            by_campaign[event.campaign_id].append(self._compact(offset, event))
        total = ApplyResult()
        for campaign_id, events in by_campaign.items():
            keys = CounterKeys(campaign_id)
            counts = await self._apply(
                keys=[keys.fence(topic, partition), keys.units],
                args=[keys.prefix, json.dumps(events, ensure_ascii=False)],
            )
            total = total + ApplyResult(*(int(n) for n in counts))
        return total

    def _compact(self, offset: int, event: InitiativeEvent) -> dict[str, object]:
        base: dict[str, object] = {"o": offset, "i": str(event.data.initiative_id)}
        if isinstance(event, InitiativeSubmitted):
            day = event.occurred_at.astimezone(self.zone).date()
            return base | {
                "t": "s",
                "p": event.union_path,
                "f": event.data.field,
                "a": [author.category.value for author in event.data.authors],
                "k": sorted({author.person_key for author in event.data.authors}),
                "b": str(event.data.estimated_benefit_vnd),  # a Lua number would print 14 digits
                "d": day.isoformat(),
                "wk": iso_week(day),
                "ts": event.occurred_at.timestamp(),
            }
        if isinstance(event, InitiativeReviewed):
            return base | {"t": "r", "v": event.data.decision.value}
        return base | {"t": "w"}
