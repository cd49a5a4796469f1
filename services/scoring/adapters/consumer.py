"""The scoring consumer: initiative events from Kafka to the Redis counters, exactly once in
effect.

The records of one poll (several partitions) are applied in one Lua step per campaign that also
stores the campaign's fence of each partition (the last offset applied); each partition's resume
offset is stored next, then the offsets are committed to Kafka. On assignment the consumer
seeks to the resume offset. A record applied but not yet committed is skipped by the fence when
it comes again, whoever receives it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.scoring.adapters.counters import CounterStore, InitiativeEvent, Step
from services.scoring.adapters.directory import UnitDirectory
from services.scoring.adapters.metrics import (
    APPLY_LATENCY,
    DEAD_LETTERED,
    DUPLICATES_SKIPPED,
    EVENTS_APPLIED,
    LAG,
)
from services.scoring.adapters.rankings import RankingRefresher, Rankings
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
T = TypeVar("T")
# Decoding a poll takes tens of milliseconds of CPU: the fetch stage yields every so many
# records, or Redis would wait that long for the apply stage to send it the next step.
YIELD_EVERY = 100
Batches = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
Decoded = dict[int, list[tuple[int, InitiativeEvent]]]  # partition → (offset, event)


@dataclass(frozen=True)
class Poll:
    """One poll's records, decoded and prepared for the counters' step."""

    batches: Batches
    steps: list[Step]
    announcements: list[tuple[str, str]]  # (channel, JSON list of the units that changed)


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

    def __init__(
        self,
        settings: ScoringSettings,
        redis: Redis,
        *,
        directory: UnitDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.store = CounterStore(
            redis,
            timezone=settings.timezone,
            directory=directory,
            step_events=settings.scoring_step_events,
        )
        self.max_records = settings.scoring_poll_records
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
            # Under a trickle, every fetch would come back with a record or two: each costs the
            # broker the same CPU, and at 100 events/s it spent a quarter of a core on them.
            fetch_max_wait_ms=self.settings.scoring_fetch_wait_ms,
            fetch_min_bytes=self.settings.scoring_fetch_min_bytes,
        )
        self.consumer.subscribe(
            [self.settings.topic_initiative_events], listener=_SeekToApplied(self)
        )
        await self.producer.start()
        await self.consumer.start()
        log.info("consumer.started", group=self.settings.scoring_consumer_group)
        # Two stages: while Redis runs one poll's step, the next poll is fetched and decoded
        # here, so this process's work and Redis's overlap instead of taking turns.
        polls: asyncio.Queue[Poll] = asyncio.Queue(maxsize=1)
        fetching = asyncio.create_task(self._fetch(polls))
        refresher = RankingRefresher(
            self.redis,
            Rankings(self.redis, self.store.directory),
            interval=self.settings.scoring_rank_interval_seconds,
        )
        refreshing = asyncio.create_task(refresher.run())
        try:
            while not (self._stopping.is_set() and polls.empty()):
                next_poll = asyncio.create_task(polls.get())
                await asyncio.wait({next_poll, fetching}, return_when=asyncio.FIRST_COMPLETED)
                if not next_poll.done():
                    next_poll.cancel()
                    fetching.result()  # the fetch stage failed: raise why
                    break  # it stopped, and everything it fetched is applied
                await self._apply_with_retry(next_poll.result())
        finally:
            fetching.cancel()
            refreshing.cancel()
            # Raised above if fetching failed; the refresher logs its own trouble.
            await asyncio.gather(fetching, refreshing, return_exceptions=True)
            await self.consumer.stop()
            await self.producer.stop()
            log.info("consumer.stopped")

    async def _fetch(self, polls: asyncio.Queue[Poll]) -> None:
        assert self.consumer is not None
        while not self._stopping.is_set():
            batches = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
            if batches:
                await polls.put(await self.prepare(batches))

    async def prepare(self, batches: Batches) -> Poll:
        """Decode a poll (poison to the dead-letter topic) and prepare its steps."""
        events = await self.decode(batches)
        topic = self.settings.topic_initiative_events
        steps = await self._retry("prepare", partial(self.store.prepare, topic, events))
        announcements = [
            (changes_channel(step.campaign_id), json.dumps(sorted(step.units))) for step in steps
        ]
        return Poll(batches, steps, announcements)

    async def stop(self) -> None:
        """Finish the batch in hand, then stop."""
        self._stopping.set()

    async def _apply_with_retry(self, poll: Poll) -> None:
        await self._retry("apply", lambda: self.apply(poll))

    async def _retry(self, stage: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Redis is away: keep the poll and try again; nothing is committed meanwhile."""
        delay = 0.5
        while True:
            try:
                return await attempt()
            except (RedisError, OSError, TimeoutError) as error:
                log.warning(f"consumer.{stage}_failed", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                if self._stopping.is_set():
                    raise

    async def decode(self, batches: Batches) -> Decoded:
        """The initiative events of a poll by partition; poison goes to the dead-letter topic."""
        assert self.producer is not None
        events: dict[int, list[tuple[int, InitiativeEvent]]] = {}
        for tp, records in batches.items():
            decoded = events.setdefault(tp.partition, [])
            for number, record in enumerate(records, start=1):
                if number % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the apply stage send the next step meanwhile
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
                    decoded.append((record.offset, event))
        return events

    async def apply(self, poll: Poll) -> None:
        """Apply a prepared poll in one step per campaign, store each partition's resume
        offset, commit."""
        assert self.consumer is not None
        started = time.perf_counter()
        result = await self.store.execute(poll.steps)
        lasts = {tp: records[-1].offset for tp, records in poll.batches.items() if records}
        pipe = self.redis.pipeline(transaction=False)
        for channel, units in poll.announcements:  # to the live streams
            pipe.publish(channel, units)
        for tp, last in lasts.items():
            pipe.set(resume_key(tp.topic, tp.partition), last)
        await pipe.execute()
        APPLY_LATENCY.observe(time.perf_counter() - started)
        EVENTS_APPLIED.inc(result.applied)
        DUPLICATES_SKIPPED.inc(result.duplicates + result.fenced)
        await self._commit({tp: last + 1 for tp, last in lasts.items()})
        for tp, last in lasts.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                LAG.labels(str(tp.partition)).set(max(highwater - last - 1, 0))

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit what this consumer still owns. A partition moved to another consumer while
        its poll was applied needs no commit: the resume offset in Redis says where to go on,
        and the fences skip whatever is read twice."""
        assert self.consumer is not None
        owned = self.consumer.assignment()
        try:
            await self.consumer.commit({tp: n for tp, n in offsets.items() if tp in owned})
        except (CommitFailedError, IllegalStateError) as error:
            log.warning("consumer.commit_skipped", error=str(error))

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
