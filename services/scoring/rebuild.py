"""Rebuilding one campaign's counters: wipe them, replay the initiative topic from its start.

Run it while no scoring instance consumes (it refuses otherwise): a live consumer would set the
fences ahead of the replay, and the replay's records would then be skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from services.scoring.adapters.counters import CounterStore, InitiativeEvent
from services.scoring.adapters.rankings import Rankings
from shared.counters import CounterKeys
from shared.events import (
    EventDecodeError,
    InitiativeReviewed,
    InitiativeSubmitted,
    InitiativeWithdrawn,
    decode,
)
from shared.settings import ScoringSettings

Progress = Callable[[int, int], None]  # (records read, records to read)


class ConsumersActive(RuntimeError):
    """The scoring consumer group has members: stop them first."""


async def wipe_campaign(redis: Redis, campaign_id: str) -> int:
    """Delete every counter of a campaign (its fences too); return how many keys went."""
    deleted = 0
    batch: list[str] = []
    keys = CounterKeys(campaign_id)
    async for key in redis.scan_iter(match=keys.pattern, count=1000):
        if ":t:" in key or key == keys.targets:  # registry state, not counters: keep them
            continue
        batch.append(key)
        if len(batch) >= 500:
            deleted += await redis.unlink(*batch)
            batch.clear()
    if batch:
        deleted += await redis.unlink(*batch)
    return deleted


async def ensure_no_consumers(settings: ScoringSettings) -> None:
    """Raise ConsumersActive if the scoring group has members."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([settings.scoring_consumer_group])
    finally:
        await admin.close()
    group = response.groups[0]
    members = group[5] if len(group) > 5 else []
    if members:
        raise ConsumersActive(
            f"consumer group {settings.scoring_consumer_group} has {len(members)} active members"
        )


async def rebuild(
    settings: ScoringSettings,
    redis: Redis,
    campaign_id: str,
    *,
    on_progress: Progress = lambda done, total: None,
) -> int:
    """Wipe the campaign's counters and replay every partition up to its current end."""
    await ensure_no_consumers(settings)
    await wipe_campaign(redis, campaign_id)
    store = CounterStore(
        redis, timezone=settings.timezone, step_events=settings.scoring_step_events
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    applied = 0
    try:
        partitions = await _partitions(settings)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        total, done = sum(ends[tp] - starts[tp] for tp in partitions), 0
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                records = [r for r in records if r.offset < ends[tp]]
                events = [
                    (r.offset, e) for r in records if (e := _initiative_event(r.value, campaign_id))
                ]
                applied += (await store.apply(tp.topic, tp.partition, events)).applied
                done += len(records)
                if not records or records[-1].offset >= ends[tp] - 1:
                    remaining.discard(tp)
            on_progress(done, total)
    finally:
        await consumer.stop()
    # The step ranked every unit an event touched; units with a target and nothing registered
    # yet were ranked by the registry reader, and the wipe took them out: place everyone.
    await Rankings(redis, store.directory).rescore_all(campaign_id)
    return applied


async def _partitions(settings: ScoringSettings) -> list[TopicPartition]:
    topic = settings.topic_initiative_events
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    numbers = sorted(p["partition"] for p in described.get("partitions", []))
    if not numbers:
        raise LookupError(f"topic {topic} does not exist")
    return [TopicPartition(topic, number) for number in numbers]


def _initiative_event(raw: bytes | None, campaign_id: str) -> InitiativeEvent | None:
    try:
        event = decode(raw or b"")
    except EventDecodeError:
        return None  # the live consumer sent it to the dead-letter topic already
    if (
        isinstance(event, InitiativeSubmitted | InitiativeReviewed | InitiativeWithdrawn)
        and event.campaign_id == campaign_id
    ):
        return event
    return None
