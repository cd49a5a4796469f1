"""Routing records that cannot be processed to the dead-letter topic, reason in the headers.

The original key and value are kept byte for byte, so a record can be inspected and replayed
once the cause is fixed; the headers say why it failed and where it came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from shared.events import (
    AnyEvent,
    CampaignDefined,
    EventDecodeError,
    TargetSet,
    UnionUpserted,
    decode,
)

DEAD_LETTER_HEADERS = (
    "dlq.reason",
    "dlq.detail",
    "dlq.source.topic",
    "dlq.source.partition",
    "dlq.source.offset",
    "dlq.consumer",
    "dlq.failed_at",
)
_MAX_DETAIL_BYTES = 2000  # headers are not the place for a whole stack of validation errors


class ConsumedRecord(Protocol):
    """The parts of an aiokafka ConsumerRecord that dead-lettering needs."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class DeadLetter:
    """A record read back from the dead-letter topic."""

    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    consumer: str
    failed_at: str
    key: bytes | None
    value: bytes | None


async def send_to_dead_letter(
    producer: AIOKafkaProducer,
    dead_letter_topic: str,
    record: ConsumedRecord,
    *,
    reason: str,
    detail: str,
    consumer: str,
) -> None:
    """Publish ``record`` unchanged to the dead-letter topic and wait until it is stored."""
    headers = [
        ("dlq.reason", reason.encode()),
        ("dlq.detail", detail.encode()[:_MAX_DETAIL_BYTES]),
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
    ]
    await producer.send_and_wait(
        dead_letter_topic, value=record.value, key=record.key, headers=headers
    )


async def decode_or_dead_letter(
    record: ConsumedRecord,
    producer: AIOKafkaProducer,
    *,
    dead_letter_topic: str,
    consumer: str,
) -> AnyEvent | None:
    """Decode an event; a record that cannot be decoded goes to the dead-letter topic (None)."""
    try:
        return decode(record.value or b"")
    except EventDecodeError as error:
        await send_to_dead_letter(
            producer,
            dead_letter_topic,
            record,
            reason=error.reason,
            detail=error.detail,
            consumer=consumer,
        )
        return None


def read_dead_letter(record: Any) -> DeadLetter:
    """Parse a record consumed from the dead-letter topic."""
    headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    return DeadLetter(
        reason=headers.get("dlq.reason", ""),
        detail=headers.get("dlq.detail", ""),
        source_topic=headers.get("dlq.source.topic", ""),
        source_partition=int(headers.get("dlq.source.partition", "-1")),
        source_offset=int(headers.get("dlq.source.offset", "-1")),
        consumer=headers.get("dlq.consumer", ""),
        failed_at=headers.get("dlq.failed_at", ""),
        key=record.key,
        value=record.value,
    )


REGISTRY_EVENTS = (UnionUpserted, CampaignDefined, TargetSet)
RegistryEvent = UnionUpserted | CampaignDefined | TargetSet


def dead_letter_marker(consumer: str, record: ConsumedRecord) -> str:
    """The Redis key saying ``consumer`` has dead-lettered this record already. The value's
    hash is part of it: a topic deleted and created again reuses offsets for other records."""
    digest = hashlib.sha256(record.value or b"").hexdigest()[:16]
    return f"dlq:sent:{consumer}:{record.topic}:{record.partition}:{record.offset}:{digest}"


class OnceDeadLetters:
    """Dead-letters the poison of a topic that is read from its start at every start.

    Every instance reads the whole compacted registry topic each time it starts: without a
    marker, one bad record would be dead-lettered again by every start of every instance. A
    Redis key per (consumer, topic, partition, offset, value), set once the send succeeded,
    makes it once per consumer name (twice at worst, after a crash between the two).
    """

    def __init__(
        self, producer: AIOKafkaProducer, redis: Redis, *, dead_letter_topic: str, consumer: str
    ) -> None:
        self.producer = producer
        self.redis = redis
        self.dead_letter_topic = dead_letter_topic
        self.consumer = consumer

    async def send(self, record: ConsumedRecord, *, reason: str, detail: str) -> None:
        """Send ``record`` to the dead-letter topic unless this consumer already has."""
        marker = dead_letter_marker(self.consumer, record)
        if await self.redis.exists(marker):
            return
        # Sent first, marked after: a crash between the two sends it again at the next start
        # (a duplicate on the dead-letter topic), never not at all.
        await send_to_dead_letter(
            self.producer,
            self.dead_letter_topic,
            record,
            reason=reason,
            detail=detail,
            consumer=self.consumer,
        )
        await self.redis.set(marker, "1")


async def decode_registry_record(
    record: ConsumedRecord, dead_letters: OnceDeadLetters
) -> RegistryEvent | None:
    """A registry record's event; None for a tombstone (nothing to apply) and for poison, which
    goes to the dead-letter topic: undecodable, of an unknown type or version, invalid, or an
    event that does not belong on the registry topic."""
    if record.value is None:
        return None
    try:
        event = decode(record.value)
    except EventDecodeError as error:
        await dead_letters.send(record, reason=error.reason, detail=error.detail)
        return None
    if not isinstance(event, REGISTRY_EVENTS):
        detail = f"type: {event.type} does not belong on the registry topic"
        await dead_letters.send(record, reason="unexpected_type", detail=detail)
        return None
    return event
