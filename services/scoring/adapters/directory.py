"""What the scoring step needs to know of units and campaigns beyond the events: a unit's
parent, emulation cluster, level, members and target (to rank it), and what a campaign counts.

Read from the registry in Redis and kept in memory: about 150 bytes a unit and campaign, some
25 MB for the whole country. The registry reader of the same instance forgets what a registry
record changes, then re-ranks the unit; every instance's reader does the same, so a step that
used a value just replaced is corrected by that re-ranking.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from shared.counters import CounterKeys, RegistryKeys, decode_facts
from shared.events import CampaignDefinedData

# [parent, cluster, level, members, target]: the shape the Lua scripts take it in.
UnitMeta = tuple[str, str, str, int, int]


class UnitDirectory:
    """A cache of the registry facts the counters' step needs, loaded on first use."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._units: dict[str, tuple[str, str, str, int]] = {}
        self._targets: dict[tuple[str, str], int] = {}
        self._counts: dict[str, str] = {}
        self._unknown: set[str] = set()  # not in the registry when last asked
        self._loaded = False  # every unit's facts read once
        self._campaigns: set[str] = set()  # campaigns whose targets were read once

    async def units(self, campaign_id: str, unit_ids: Iterable[str]) -> dict[str, UnitMeta]:
        """The facts of every unit of ``unit_ids`` the registry knows (others are left out),
        with its target in the campaign (0: none).

        Every value is cached until the registry reader says it changed. The first call reads
        every unit's facts, and the first call for a campaign every target, in one read each:
        a consumer then never waits here on Redis while Redis runs the step before. Later, a
        unit not cached yet is read on its own."""
        if not self._loaded:
            facts: dict[str, str] = await self.redis.hgetall(RegistryKeys.facts())  # type: ignore[assignment]  # decoded
            self._units.update((unit_id, decode_facts(text)) for unit_id, text in facts.items())
            self._loaded = True
        if campaign_id not in self._campaigns:
            targets = await self.redis.hgetall(CounterKeys(campaign_id).targets)
            self._targets.update(((campaign_id, u), int(t)) for u, t in targets.items())
            self._campaigns.add(campaign_id)
        wanted = set(unit_ids)
        missing = [u for u in wanted if u not in self._units and u not in self._unknown]
        no_target = [u for u in wanted if (campaign_id, u) not in self._targets]
        if missing:
            found = await self.redis.hmget(RegistryKeys.facts(), missing)
            for unit_id, text in zip(missing, found, strict=True):
                if text is None:  # not in the registry yet: its upsert will make us forget this
                    self._unknown.add(unit_id)
                else:
                    self._units[unit_id] = decode_facts(text)
        if no_target:
            targets = await self.redis.hmget(CounterKeys(campaign_id).targets, no_target)
            for unit_id, target in zip(no_target, targets, strict=True):
                self._targets[campaign_id, unit_id] = int(target or 0)
        return {
            unit_id: (*self._units[unit_id], self._targets[campaign_id, unit_id])
            for unit_id in wanted
            if unit_id in self._units
        }

    async def counts(self, campaign_id: str) -> str:
        """What counts toward a campaign's targets: ``valid`` (the default) or ``registered``."""
        if campaign_id not in self._counts:
            definition = await self.redis.hget(RegistryKeys.campaign(campaign_id), "definition")
            if definition is None:
                return "valid"  # the default, until the campaign's definition arrives
            self._counts[campaign_id] = CampaignDefinedData.model_validate_json(
                definition
            ).counts.value
        return self._counts[campaign_id]

    def forget_unit(self, unit_id: str) -> None:
        """Drop a unit's facts: its registry record changed."""
        self._units.pop(unit_id, None)
        self._unknown.discard(unit_id)

    def forget_target(self, campaign_id: str, unit_id: str) -> None:
        """Drop a unit's target in a campaign: it was set again."""
        self._targets.pop((campaign_id, unit_id), None)

    def forget_campaign(self, campaign_id: str) -> None:
        """Drop what a campaign counts: its definition changed."""
        self._counts.pop(campaign_id, None)
