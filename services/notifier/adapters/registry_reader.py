"""Follows the compacted registry topic into the notifier's in-memory Registry."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.notifier.domain.registry import Registry
from shared.events import decode
from shared.events.codec import EventDecodeError
from shared.kafka import create_registry_reader
from shared.logging import get_logger
from shared.settings import NotifierSettings

log = get_logger(__name__)


class RegistryFollower:
    """Reads the whole registry at start (``ready`` is set once it has), then follows it."""

    def __init__(self, settings: NotifierSettings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Read from the start, then follow, until ``stop()``."""
        consumer = create_registry_reader(self.settings)
        await consumer.start()
        try:
            ends = await self._ends(consumer)
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self._apply(record.value or b"")
                if not self.ready.is_set() and await self._reached(consumer, ends):
                    log.info("registry.loaded", units=len(self.registry.units))
                    self.ready.set()
        finally:
            await consumer.stop()

    def _apply(self, raw: bytes) -> None:
        try:
            self.registry.apply(decode(raw))
        except EventDecodeError as error:
            log.warning("registry.unreadable", reason=error.reason, detail=error.detail)

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
