"""The registry reader: unions, campaigns and targets from the compacted topic into Redis.

It reads the whole topic from its start at every start (a compacted topic keeps one record per
key: about 150,000 units and their targets) and then follows it; every write is idempotent.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from services.scoring.adapters.rankings import METRICS, Rankings
from shared.counters import CounterKeys, RegistryKeys, effective_target, encode_facts
from shared.events import AnyEvent, CampaignDefined, TargetSet, UnionUpserted, decode
from shared.events.codec import EventDecodeError
from shared.kafka import (
    OnceDeadLetters,
    create_producer,
    create_registry_reader,
    decode_registry_record,
)
from shared.logging import get_logger
from shared.settings import ScoringSettings

log = get_logger(__name__)


async def apply_registry_event(redis: Redis, raw: bytes, rankings: Rankings | None = None) -> bool:
    """Store one registry record and re-rank what it changes; False when it cannot be read
    (it is logged and skipped). ``rankings`` carries the instance's unit directory, which
    forgets what the record changes."""
    try:
        event = decode(raw)
    except EventDecodeError as error:
        log.warning("registry.unreadable", reason=error.reason, detail=error.detail)
        return False
    await apply_registry(redis, event, rankings)
    return True


async def apply_registry(redis: Redis, event: AnyEvent, rankings: Rankings | None = None) -> None:
    """Store one registry event and re-rank what it changes (other events change nothing)."""
    rankings = rankings or Rankings(redis)
    directory = rankings.directory
    if isinstance(event, UnionUpserted):
        pipe = redis.pipeline(transaction=False)
        pipe.hgetall(RegistryKeys.unit(event.union_id))
        pipe.hget(RegistryKeys.facts(), event.union_id)
        before, facts = await pipe.execute()
        if before == _union_fields(event) and facts == _facts(event):
            # Every start reads the whole registry again: an unchanged unit needs nothing.
            return
        await _store(redis, event)
        directory.forget_unit(event.union_id)
        for campaign_id in await redis.smembers(RegistryKeys.campaigns()):
            await _leave_old_groups(redis, campaign_id, event, before)
            await rankings.rescore(campaign_id, [event.union_id])
    elif isinstance(event, CampaignDefined):
        counted_before = await directory.counts(event.campaign_id)
        await _store(redis, event)
        directory.forget_campaign(event.campaign_id)
        if await directory.counts(event.campaign_id) != counted_before:
            await rankings.rescore_all(event.campaign_id)
    else:
        await _store(redis, event)
        if isinstance(event, TargetSet):
            directory.forget_target(event.campaign_id, event.union_id)
            await rankings.rescore(event.campaign_id, [event.union_id])


async def _leave_old_groups(
    redis: Redis, campaign_id: str, event: UnionUpserted, before: dict[str, str]
) -> None:
    """A unit that moved (another parent, cluster or level) leaves its old groups' rankings."""
    current = _union_fields(event)
    pipe = redis.pipeline(transaction=False)
    for grouping, field in (("ch", "parent_id"), ("cl", "emulation_cluster"), ("lv", "level")):
        old = before.get(field)
        if old and old != current[field]:
            for metric in METRICS:
                pipe.zrem(CounterKeys(campaign_id).ranking(metric, grouping, old), event.union_id)
    await pipe.execute()


def _union_fields(event: UnionUpserted) -> dict[str, str]:
    """The unit's registry hash, as Redis gives it back."""
    data = event.data
    return {
        "name": data.name,
        "level": data.level.value,
        "parent_id": data.parent_id or "",
        "sector": data.sector or "",
        "emulation_cluster": data.emulation_cluster or "",
        "members": str(data.members),
        "path": "/".join(event.union_path),
    }


def _facts(event: UnionUpserted) -> str:
    data = event.data
    return encode_facts(
        data.parent_id or "", data.emulation_cluster or "", data.level.value, data.members
    )


async def _store(redis: Redis, event: AnyEvent) -> None:
    pipe = redis.pipeline(transaction=True)
    if isinstance(event, UnionUpserted):
        data = event.data
        pipe.hset(RegistryKeys.unit(event.union_id), mapping=_union_fields(event))
        pipe.hset(RegistryKeys.facts(), event.union_id, _facts(event))
        if data.parent_id:
            pipe.sadd(RegistryKeys.children(data.parent_id), event.union_id)
    elif isinstance(event, CampaignDefined):
        pipe.hset(
            RegistryKeys.campaign(event.campaign_id),
            mapping={"definition": event.data.model_dump_json(), "organiser_id": event.union_id},
        )
        pipe.sadd(RegistryKeys.campaigns(), event.campaign_id)
    elif isinstance(event, TargetSet):
        targets = {
            "assigned_target": event.data.assigned_target,
            "own_target": event.data.own_target,
        }
        key = RegistryKeys.target(event.campaign_id, event.union_id)
        pipe.delete(key)
        values = {name: value for name, value in targets.items() if value is not None}
        if values:
            pipe.hset(key, mapping=values)
        pipe.hset(
            CounterKeys(event.campaign_id).targets,
            event.union_id,
            effective_target(event.data.own_target, event.data.assigned_target),
        )
    await pipe.execute()


class RegistryReader:
    """Follows the registry topic into Redis."""

    def __init__(
        self, settings: ScoringSettings, redis: Redis, rankings: Rankings | None = None
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.rankings = rankings or Rankings(redis)
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Read from the start, then follow, until ``stop()``; poison goes to the dead-letter
        topic (once, whichever instance reads it first) and the reading carries on."""
        consumer = create_registry_reader(self.settings)
        producer = create_producer(self.settings)
        dead_letters = OnceDeadLetters(
            producer,
            self.redis,
            dead_letter_topic=self.settings.topic_dead_letter,
            consumer=f"{self.settings.scoring_consumer_group}.registry",
        )
        await producer.start()
        try:
            await consumer.start()
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        event = await decode_registry_record(record, dead_letters)
                        if event is not None:
                            await apply_registry(self.redis, event, self.rankings)
        finally:
            await consumer.stop()
            await producer.stop()

    async def stop(self) -> None:
        """Stop after the batch in hand."""
        self._stopping.set()
