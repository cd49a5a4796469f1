"""The scoring consumer: initiative events from Kafka to the Redis counters, exactly once in
effect.

Each partition batch is applied in one Lua step per campaign that also stores the campaign's
fence (the last applied offset); the partition's resume offset is stored next, then the offset
is committed to Kafka. On assignment the consumer seeks to the resume offset. A record applied
but not yet committed is skipped by the fence when it comes again, whoever receives it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.scoring.adapters.counters import CounterStore, InitiativeEvent
from services.scoring.adapters.metrics import (
    APPLY_LATENCY,
    DEAD_LETTERED,
    DUPLICATES_SKIPPED,
    EVENTS_APPLIED,
    LAG,
)
from services.scoring.adapters.rankings import Rankings
from shared.events import InitiativeReviewed, InitiativeSubmitted, InitiativeWithdrawn
from shared.kafka import (
    create_consumer,
    create_producer,
    decode_or_dead_letter,
    send_to_dead_letter,
)
from shared.logging import get_logger
from shared.settings import ScoringSettings

log = get_logger(__name__)
_INITIATIVE_EVENTS = (InitiativeSubmitted, InitiativeReviewed, InitiativeWithdrawn)


def changes_channel(campaign_id: str) -> str:
    """The Redis channel that carries the ids of units whose counters just changed."""
    return f"scoring:changes:{campaign_id}"


def resume_key(topic: str, partition: int) -> str:
    """Where the last offset applied from a partition is kept (the seek target)."""
    return f"scoring:resume:{topic}:{partition}"


class _SeekToApplied(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: ScoringConsumer) -> None:
        self.scoring = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass  # nothing to flush: every applied batch is already committed or fenced

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.scoring.seek_to_applied(assigned)


class ScoringConsumer:
    """Consumes the initiative events of ``settings`` into the counters in ``redis``."""

    def __init__(self, settings: ScoringSettings, redis: Redis, *, max_records: int = 2000) -> None:
        self.settings = settings
        self.redis = redis
        self.store = CounterStore(redis, timezone=settings.timezone)
        self.rankings = Rankings(redis)
        self.max_records = max_records
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()

    async def seek_to_applied(self, partitions: Sequence[TopicPartition]) -> None:
        """Resume each partition after the last offset applied to Redis."""
        assert self.consumer is not None
        for tp in partitions:
            applied = await self.redis.get(resume_key(tp.topic, tp.partition))
            if applied is not None:
                self.consumer.seek(tp, int(applied) + 1)

    async def run(self) -> None:
        """Consume until ``stop()``; Redis or Kafka trouble is logged and retried."""
        self.producer = create_producer(self.settings)
        self.consumer = create_consumer(
            self.settings,
            group_id=self.settings.scoring_consumer_group,
            max_poll_records=self.max_records,
        )
        self.consumer.subscribe(
            [self.settings.topic_initiative_events], listener=_SeekToApplied(self)
        )
        await self.producer.start()
        await self.consumer.start()
        log.info("consumer.started", group=self.settings.scoring_consumer_group)
        try:
            while not self._stopping.is_set():
                batches = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
                for tp, records in batches.items():
                    await self._apply_with_retry(tp, records)
        finally:
            await self.consumer.stop()
            await self.producer.stop()
            log.info("consumer.stopped")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop."""
        self._stopping.set()

    async def _apply_with_retry(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        delay = 0.5
        while True:
            try:
                await self.apply(tp, records)
                return
            except (RedisError, OSError, TimeoutError) as error:
                # Redis is away: keep the batch and try again; nothing is committed meanwhile.
                log.warning(
                    "consumer.apply_failed",
                    partition=tp.partition,
                    error=str(error),
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                if self._stopping.is_set():
                    raise

    async def apply(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Decode (poison to the dead-letter topic), apply, store the resume offset, commit."""
        assert self.consumer is not None and self.producer is not None
        events: list[tuple[int, InitiativeEvent]] = []
        for record in records:
            event = await decode_or_dead_letter(
                record,
                self.producer,
                dead_letter_topic=self.settings.topic_dead_letter,
                consumer=self.settings.scoring_consumer_group,
            )
            if event is None:
                DEAD_LETTERED.inc()
            elif not isinstance(event, _INITIATIVE_EVENTS):
                await self._dead_letter_unexpected(record, event.type)
            else:
                events.append((record.offset, event))
        started = time.perf_counter()
        result = await self.store.apply(tp.topic, tp.partition, events)
        await self._after_apply(events)
        last = records[-1].offset
        await self.redis.set(resume_key(tp.topic, tp.partition), last)
        APPLY_LATENCY.observe(time.perf_counter() - started)
        EVENTS_APPLIED.inc(result.applied)
        DUPLICATES_SKIPPED.inc(result.duplicates + result.fenced)
        await self.consumer.commit({tp: last + 1})
        highwater = self.consumer.highwater(tp)
        if highwater is not None:
            LAG.labels(str(tp.partition)).set(max(highwater - last - 1, 0))

    async def _after_apply(self, events: list[tuple[int, InitiativeEvent]]) -> None:
        """Re-score the touched units in the rankings and tell live streams what changed."""
        touched: dict[str, set[str]] = {}
        for _, event in events:
            touched.setdefault(event.campaign_id, set()).update(event.union_path)
        for campaign_id, units in touched.items():
            await self.rankings.rescore(campaign_id, units)
            await self.redis.publish(changes_channel(campaign_id), json.dumps(sorted(units)))

    async def _dead_letter_unexpected(
        self, record: ConsumerRecord[bytes, bytes], event_type: str
    ) -> None:
        assert self.producer is not None
        await send_to_dead_letter(
            self.producer,
            self.settings.topic_dead_letter,
            record,
            reason="unexpected_type",
            detail=f"type: {event_type} does not belong on the initiative events topic",
            consumer=self.settings.scoring_consumer_group,
        )
        DEAD_LETTERED.inc()
