"""Routing records that cannot be processed to the dead-letter topic, reason in the headers.

The original key and value are kept byte for byte, so a record can be inspected and replayed
once the cause is fixed; the headers say why it failed and where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from shared.events import AnyEvent, EventDecodeError, decode

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
