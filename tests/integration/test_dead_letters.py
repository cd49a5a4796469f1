"""Poison records on each topic a service consumes go to the dead-letter topic with the reason,
and the consumer carries on with the good record after them.

The topics and their consumers: the initiative events (scoring's consumer group), the registry
(scoring's registry reader and the notifier's registry follower). Nothing in the project reads
the alerts topic (the notifier only writes it), so it has no consumer to test here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from event_samples import (
    GRASSROOTS_PATH,
    dak_lak_campaign,
    initiative_submitted,
    target_event,
    union_event,
)
from kafka_tools import read_records

from services.notifier.adapters.registry_reader import DEAD_LETTER_CONSUMER, RegistryFollower
from services.notifier.domain.registry import Registry
from services.scoring.adapters.consumer import ScoringConsumer
from services.scoring.adapters.registry import RegistryReader, apply_registry_event
from shared.counters import RegistryKeys, read_unit
from shared.events import UnionLevel, encode, partition_key
from shared.kafka import DeadLetter, create_producer, read_dead_letter
from shared.redis import create_redis
from shared.settings import CommonSettings, NotifierSettings, ScoringSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEADLINE_SECONDS = 30.0


def _wrong_version(good: bytes) -> bytes:
    """A well-formed event of a version nobody knows (a producer from the future)."""
    document = json.loads(good)
    document["type"] = document["type"].rsplit(".", 1)[0] + ".v9"
    return json.dumps(document).encode()


def _poison(good: bytes) -> list[tuple[bytes, str]]:
    """Records no consumer can take, each with the reason it must be dead-lettered for."""
    return [
        (b"\xff\xfe\x00 not utf-8", "not_utf8"),
        (b'{"unit": "dak-lak", "count": ', "not_json"),
        (b'{"hello": "world"}', "invalid"),
        (_wrong_version(good), "unknown_type"),
    ]


async def _publish(settings: CommonSettings, topic: str, values: list[bytes]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"poison-test")
    finally:
        await producer.stop()


async def _dead_letters(settings: CommonSettings, count: int) -> list[DeadLetter]:
    records = await read_records(
        settings.kafka_bootstrap_servers, settings.topic_dead_letter, count=count
    )
    return [read_dead_letter(record) for record in records]


async def _dead_letter_total(settings: CommonSettings) -> int:
    consumer = AIOKafkaConsumer(
        settings.topic_dead_letter,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(settings.topic_dead_letter) or set()
        tps = [TopicPartition(settings.topic_dead_letter, p) for p in partitions]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(DEADLINE_SECONDS):
        while not await condition():  # noqa: ASYNC110 (Redis and a Kafka reader: no event)
            await asyncio.sleep(0.1)


@asynccontextmanager
async def _running(worker: Any) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        await worker.stop()
        async with asyncio.timeout(DEADLINE_SECONDS):
            await task


def _scoring_settings(settings: CommonSettings, unique: str) -> ScoringSettings:
    return ScoringSettings(**settings.model_dump(), scoring_consumer_group=f"scoring-{unique}")


# --- the initiative events: scoring's consumer group ------------------------------------------


async def test_poison_initiative_events_are_dead_lettered_and_the_good_one_counted(
    settings: CommonSettings, unique: str
) -> None:
    config = _scoring_settings(settings, unique)
    redis = create_redis(settings.redis_url)
    path = GRASSROOTS_PATH
    for event in (
        *(union_event(path[: n + 1], level) for n, level in enumerate(UnionLevel)),
        dak_lak_campaign(f"poison-{unique}", path[:2]),
    ):
        assert await apply_registry_event(redis, encode(event))
    good = initiative_submitted().model_copy(update={"campaign_id": f"poison-{unique}"})
    poison = [*_poison(encode(good)), (encode(target_event("c", path, own=1)), "unexpected_type")]
    await _publish(settings, settings.topic_initiative_events, [v for v, _ in poison])
    await _publish(settings, settings.topic_initiative_events, [encode(good)])

    async def counted() -> bool:
        return (await read_unit(redis, f"poison-{unique}", path[-1])).registered == 1

    try:
        async with _running(ScoringConsumer(config, redis)) as task:
            await _until(counted)
            assert not task.done()  # carried on: still consuming
    finally:
        await redis.aclose()
    dead = await _dead_letters(settings, count=len(poison))

    assert [(d.value, d.reason) for d in dead] == poison
    assert {d.consumer for d in dead} == {config.scoring_consumer_group}
    assert {d.source_topic for d in dead} == {settings.topic_initiative_events}
    assert all(d.detail for d in dead)


# --- the registry: scoring's reader and the notifier's follower -------------------------------


def _registry_poison(unique: str) -> tuple[list[tuple[bytes, str]], bytes]:
    good = union_event(["tong-ldld-vn", f"ldld-{unique}"], UnionLevel.PROVINCE)
    initiative = initiative_submitted()  # a good event, on the wrong topic
    poison = [*_poison(encode(good)), (encode(initiative), "unexpected_type")]
    return poison, encode(good)


async def test_poison_registry_records_are_dead_lettered_by_scoring_and_the_unit_stored(
    settings: CommonSettings, unique: str
) -> None:
    config = _scoring_settings(settings, unique)
    poison, good = _registry_poison(unique)
    await _publish(settings, settings.topic_registry, [*(v for v, _ in poison), good])
    redis = create_redis(settings.redis_url)

    async def stored() -> bool:
        return bool(await redis.exists(RegistryKeys.unit(f"ldld-{unique}")))

    try:
        async with _running(RegistryReader(config, redis)) as task:
            await _until(stored)
            assert not task.done()
    finally:
        await redis.aclose()
    dead = await _dead_letters(settings, count=len(poison))

    assert [(d.value, d.reason) for d in dead] == poison
    assert {d.consumer for d in dead} == {f"{config.scoring_consumer_group}.registry"}
    assert {d.source_topic for d in dead} == {settings.topic_registry}


async def test_poison_registry_records_are_dead_lettered_by_the_notifier_and_the_unit_known(
    settings: CommonSettings, unique: str
) -> None:
    config = NotifierSettings(**settings.model_dump())
    poison, good = _registry_poison(unique)
    await _publish(settings, settings.topic_registry, [*(v for v, _ in poison), good])
    redis = create_redis(settings.redis_url)
    registry = Registry()
    follower = RegistryFollower(config, registry, redis)

    async def known() -> bool:
        return follower.ready.is_set() and f"ldld-{unique}" in registry.units

    try:
        async with _running(follower) as task:
            await _until(known)
            assert not task.done()
    finally:
        await redis.aclose()
    dead = await _dead_letters(settings, count=len(poison))

    assert [(d.value, d.reason) for d in dead] == poison
    assert {d.consumer for d in dead} == {DEAD_LETTER_CONSUMER}


async def test_a_registry_read_again_from_its_start_dead_letters_its_poison_once(
    settings: CommonSettings, unique: str
) -> None:
    """Every start of every instance reads the whole compacted topic: the poison in it goes to
    the dead-letter topic the first time only."""
    config = _scoring_settings(settings, unique)
    poison, good = _registry_poison(unique)
    await _publish(settings, settings.topic_registry, [*(v for v, _ in poison), good])
    later = union_event(["tong-ldld-vn", f"ldld-{unique}-2"], UnionLevel.PROVINCE)
    redis = create_redis(settings.redis_url)

    def stored(unit_id: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return bool(await redis.exists(RegistryKeys.unit(unit_id)))

        return check

    try:
        async with _running(RegistryReader(config, redis)):
            await _until(stored(f"ldld-{unique}"))
        # A restart, and a record after everything it reads again: once that one is stored,
        # the poison before it has been read a second time.
        await _publish(settings, settings.topic_registry, [encode(later)])
        async with _running(RegistryReader(config, redis)):
            await _until(stored(later.union_id))
    finally:
        await redis.aclose()

    assert await _dead_letter_total(settings) == len(poison)


async def test_a_registry_tombstone_is_not_poison(settings: CommonSettings, unique: str) -> None:
    """A compacted topic deletes a key with a null value: nothing to apply, nothing wrong."""
    config = _scoring_settings(settings, unique)
    good = union_event(["tong-ldld-vn", f"ldld-{unique}"], UnionLevel.PROVINCE)
    producer = create_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic_registry, None, key=partition_key(good))
        await producer.send_and_wait(settings.topic_registry, encode(good), key=b"x")
    finally:
        await producer.stop()
    redis = create_redis(settings.redis_url)

    async def stored() -> bool:
        return bool(await redis.exists(RegistryKeys.unit(good.union_id)))

    try:
        async with _running(RegistryReader(config, redis)):
            await _until(stored)
    finally:
        await redis.aclose()

    assert await _dead_letter_total(settings) == 0
