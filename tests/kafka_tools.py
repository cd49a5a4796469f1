"""Reading a test's topic back: wait for records with a deadline, never a sleep."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord


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
