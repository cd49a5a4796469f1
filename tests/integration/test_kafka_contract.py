"""Events through a real broker: what is published comes back equal; what cannot be read goes
to the dead-letter topic with its reason, and the consumer carries on."""

from __future__ import annotations

import pytest
from event_samples import sample_events
from kafka_tools import read_records

from shared.events import AnyEvent, decode, encode, partition_key
from shared.kafka import (
    create_consumer,
    create_producer,
    decode_or_dead_letter,
    producer_options,
    read_dead_letter,
)
from shared.settings import CommonSettings

pytestmark = pytest.mark.integration

SAMPLES = sample_events()


@pytest.mark.parametrize("event", SAMPLES, ids=[e.type for e in SAMPLES])
async def test_every_event_type_round_trips_through_the_broker(
    settings: CommonSettings, event: AnyEvent
) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_registry, encode(event), key=partition_key(event)
        )
    finally:
        await producer.stop()

    [record] = await read_records(
        settings.kafka_bootstrap_servers, settings.topic_registry, count=1
    )

    assert decode(record.value) == event
    assert record.key == partition_key(event)


async def test_producer_waits_for_all_replicas_and_gets_a_producer_id_from_the_broker(
    settings: CommonSettings,
) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic_alerts, b"{}", key=b"k")
        # The broker hands out a producer id only to an idempotent producer.
        producer_id = producer._txn_manager.producer_id  # type: ignore[union-attr]
    finally:
        await producer.stop()

    assert producer_options(settings)["acks"] == "all"
    assert producer_id >= 0


async def test_malformed_records_go_to_the_dead_letter_topic_and_the_consumer_carries_on(
    settings: CommonSettings, unique: str
) -> None:
    good = sample_events()[0]
    unknown_type = encode(good).replace(b"innovation.submitted.v1", b"innovation.submitted.v9")
    empty_title = encode(good).replace(good.data.title.encode(), b"")  # type: ignore[union-attr]
    poison = [(b"{not json", "not_json"), (b"\xff\xfe", "not_utf8"),
              (unknown_type, "unknown_type"), (empty_title, "invalid")]  # fmt: skip
    producer = create_producer(settings)
    await producer.start()
    topic = settings.topic_initiative_events
    for value, _ in poison:
        await producer.send_and_wait(topic, value, key=b"cdcs-x", partition=0)
    await producer.send_and_wait(topic, encode(good), key=b"cdcs-x", partition=0)

    consumer = create_consumer(settings, topic, group_id=f"test-{unique}")
    await consumer.start()
    decoded: list[AnyEvent] = []
    try:
        while not decoded:
            record = await consumer.getone()
            event = await decode_or_dead_letter(
                record,
                producer,
                dead_letter_topic=settings.topic_dead_letter,
                consumer=f"test-{unique}",
            )
            if event is not None:
                decoded.append(event)
    finally:
        await consumer.stop()
        await producer.stop()

    dead = [
        read_dead_letter(r)
        for r in await read_records(
            settings.kafka_bootstrap_servers, settings.topic_dead_letter, count=len(poison)
        )
    ]
    assert decoded == [good]
    assert [d.reason for d in dead] == [reason for _, reason in poison]
    assert [d.value for d in dead] == [value for value, _ in poison]
    assert all(d.source_topic == topic and d.source_partition == 0 for d in dead)
    assert [d.source_offset for d in dead] == [0, 1, 2, 3]
    assert "data.title" in dead[3].detail
    assert "innovation.submitted.v9" in dead[2].detail
