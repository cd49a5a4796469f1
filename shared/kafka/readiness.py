"""Is the Kafka cluster answering? A real metadata request, not a socket probe."""

from __future__ import annotations

import asyncio

from aiokafka.client import AIOKafkaClient


async def check_kafka(bootstrap_servers: list[str] | str, *, timeout: float = 5.0) -> int:
    """Fetch cluster metadata; return the number of brokers, or raise if none answers."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=int(timeout * 1000),
        metadata_max_age_ms=int(timeout * 1000),
    )
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()
    finally:
        await client.close()
    brokers = len(metadata.brokers())
    if brokers == 0:
        raise ConnectionError("Kafka answered with no brokers")
    return brokers
