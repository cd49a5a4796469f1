"""Applying initiative events to the Redis counters and rankings: one Lua call per campaign and
batch."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from services.scoring.adapters.directory import UnitDirectory
from services.scoring.adapters.lua import script_source
from shared.counters import CounterKeys, iso_week
from shared.events import InitiativeReviewed, InitiativeSubmitted, InitiativeWithdrawn
from shared.redis import register_script

InitiativeEvent = InitiativeSubmitted | InitiativeReviewed | InitiativeWithdrawn
_LUA = script_source("apply_batch.lua")


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


@dataclass(frozen=True)
class Step:
    """One campaign's share of a batch, ready for the Lua step."""

    campaign_id: str
    units: frozenset[str]  # every unit whose counters it may change
    keys: list[str]
    args: list[str]


class CounterStore:
    """Writes the counters and rankings of every campaign through one registered Lua script."""

    def __init__(
        self,
        redis: Redis,
        *,
        timezone: str = "Asia/Ho_Chi_Minh",
        directory: UnitDirectory | None = None,
        step_events: int = 500,
    ) -> None:
        self.redis = redis
        self.step_events = step_events
        self.zone = ZoneInfo(timezone)
        self.directory = directory or UnitDirectory(redis)
        self._apply = register_script(redis, _LUA)

    async def apply(
        self, topic: str, partition: int, records: Sequence[tuple[int, InitiativeEvent]]
    ) -> ApplyResult:
        """Apply one partition's records (offset, event): see ``apply_partitions``."""
        return await self.apply_partitions(topic, {partition: records})

    async def apply_partitions(
        self, topic: str, batches: Mapping[int, Sequence[tuple[int, InitiativeEvent]]]
    ) -> ApplyResult:
        """Apply records (offset, event) of one or more partitions, in one atomic step per
        campaign: the more records a step takes, the more of its increments are summed before
        they are written (a province is written once per step, not once per event)."""
        return await self.execute(await self.prepare(topic, batches))

    async def prepare(
        self, topic: str, batches: Mapping[int, Sequence[tuple[int, InitiativeEvent]]]
    ) -> list[Step]:
        """Everything the steps need, computed here, so a consumer can prepare its next poll
        while Redis runs the current one: per campaign, steps of at most ``step_events``
        events, each partition's records in order."""
        by_campaign: dict[str, list[tuple[int, int, InitiativeEvent]]] = defaultdict(list)
        for partition, records in batches.items():
            for offset, event in records:
                by_campaign[event.campaign_id].append((partition, offset, event))
        steps = []
        counts = {
            campaign_id: await self.directory.counts(campaign_id) for campaign_id in by_campaign
        }
        for campaign_id, records in by_campaign.items():
            for start in range(0, len(records), self.step_events):
                steps.append(
                    await self._step(
                        topic,
                        campaign_id,
                        counts[campaign_id],
                        records[start : start + self.step_events],
                    )
                )
                await asyncio.sleep(0)  # a consumer's apply stage may be waiting to run
        return steps

    async def _step(
        self,
        topic: str,
        campaign_id: str,
        counts: str,
        records: Sequence[tuple[int, int, InitiativeEvent]],
    ) -> Step:
        fences: dict[int, int] = {}  # partition → its fence's place among the step's keys
        units: set[str] = set()
        events = []
        for partition, offset, event in records:
            index = fences.setdefault(partition, len(fences) + 1)
            events.append(self._compact(index, offset, event))
            units.update(event.union_path)
        keys = CounterKeys(campaign_id)
        # The step ranks the events' own units; it queues their ancestors for the refresher.
        ranked = await self.directory.units(campaign_id, {event.union_id for *_, event in records})
        return Step(
            campaign_id=campaign_id,
            units=frozenset(units),
            keys=[keys.units, *(keys.fence(topic, partition) for partition in fences)],
            args=[
                keys.prefix,
                counts,
                json.dumps(events, ensure_ascii=False),
                json.dumps(ranked, ensure_ascii=False),
            ],
        )

    async def execute(self, steps: Sequence[Step]) -> ApplyResult:
        """Run prepared steps, in order."""
        total = ApplyResult()
        for step in steps:
            counts = await self._apply(keys=step.keys, args=step.args)
            total = total + ApplyResult(*(int(n) for n in counts))
        return total

    def _compact(self, fence: int, offset: int, event: InitiativeEvent) -> dict[str, object]:
        base: dict[str, object] = {"x": fence, "o": offset, "i": str(event.data.initiative_id)}
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
            }
        if isinstance(event, InitiativeReviewed):
            return base | {"t": "r", "v": event.data.decision.value}
        return base | {"t": "w"}
