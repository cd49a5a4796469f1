"""A test's topics: registry records published, records read back with a deadline, never a
sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from shared.events import AnyEvent, encode, partition_key
from shared.kafka import create_producer
from shared.settings import CommonSettings


async def read_records(
    bootstrap: str, topic: str, *, count: int, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``count`` records of ``topic`` from its start (no consumer group), or fail."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    records.extend(batch)
    except TimeoutError:
        raise AssertionError(
            f"{topic}: {len(records)} of {count} records within {timeout} s"
        ) from None
    finally:
        await consumer.stop()
    return records


async def publish_registry(settings: CommonSettings, events: Iterable[AnyEvent]) -> None:
    """Put registry records (unions, campaigns, targets) on the test's registry topic, keyed
    as the submission service keys them, each acknowledged before the next."""
    producer = create_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                settings.topic_registry, encode(event), key=partition_key(event)
            )
    finally:
        await producer.stop()
