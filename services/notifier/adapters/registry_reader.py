"""Follows the compacted registry topic into the notifier's in-memory Registry."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from services.notifier.domain.registry import Registry
from shared.kafka import (
    OnceDeadLetters,
    create_producer,
    create_registry_reader,
    decode_registry_record,
)
from shared.logging import get_logger
from shared.settings import NotifierSettings

log = get_logger(__name__)
# The name in the dead-letter headers of the records this reader could not take.
DEAD_LETTER_CONSUMER = "notifier.registry"


class RegistryFollower:
    """Reads the whole registry at start (``ready`` is set once it has), then follows it."""

    def __init__(self, settings: NotifierSettings, registry: Registry, redis: Redis) -> None:
        self.settings = settings
        self.registry = registry
        self.redis = redis  # marks the records dead-lettered already (see OnceDeadLetters)
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Read from the start, then follow, until ``stop()``."""
        consumer = create_registry_reader(self.settings)
        producer = create_producer(self.settings)
        dead_letters = OnceDeadLetters(
            producer,
            self.redis,
            dead_letter_topic=self.settings.topic_dead_letter,
            consumer=DEAD_LETTER_CONSUMER,
        )
        await producer.start()
        try:
            await consumer.start()
            ends = await self._ends(consumer)
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        # Poison goes to the dead-letter topic; the registry reads on.
                        event = await decode_registry_record(record, dead_letters)
                        if event is not None:
                            self.registry.apply(event)
                if not self.ready.is_set() and await self._reached(consumer, ends):
                    log.info("registry.loaded", units=len(self.registry.units))
                    self.ready.set()
        finally:
            await consumer.stop()
            await producer.stop()

    async def _ends(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        partitions = consumer.partitions_for_topic(self.settings.topic_registry) or set()
        tps = [TopicPartition(self.settings.topic_registry, p) for p in sorted(partitions)]
        return dict(await consumer.end_offsets(tps)) if tps else {}

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if end > 0 and await consumer.position(tp) < end:
                return False
        return True

    async def stop(self) -> None:
        """Stop after the batch in hand."""
        self._stopping.set()
