"""The outbox relay against a real broker and real SQLite and PostgreSQL: what is committed to
the outbox reaches Kafka, in order per key, once per relay, even across a Kafka outage."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.structs import TopicPartition
from event_samples import GRASSROOTS_PATH, initiative_submitted
from kafka_tools import read_records
from prometheus_client import REGISTRY
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from deploy.launcher.kafka import KafkaServer, start_kafka
from deploy.launcher.process import free_port
from services.submission.adapters.migrations import migrate
from services.submission.adapters.outbox import stage_event
from services.submission.adapters.relay import OutboxRelay
from services.submission.adapters.tables import OutboxRow, RelayLeaseRow, now
from shared.database import create_engine
from shared.events import AnyEvent, decode
from shared.kafka import TopicSpec, check_kafka, create_producer, ensure_topics, topic_specs
from shared.settings import CommonSettings, SubmissionSettings

pytestmark = pytest.mark.integration

SECRET = "relay-test-person-key-secret-" + "x" * 16


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'submission.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database for one test: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database, its outbox empty."""
    async with migrated(database_url) as engine:
        # A SANGKIEN_TEST_POSTGRES_URL database is shared by the tests: start from an empty outbox.
        async with engine.begin() as connection:
            await connection.execute(delete(OutboxRow))
            await connection.execute(delete(RelayLeaseRow))
        yield engine


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[AsyncEngine]:
    """Migrate ``url`` and open an engine on it."""
    await migrate(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def relay_settings(
    settings: CommonSettings, engine: AsyncEngine, **overrides: Any
) -> SubmissionSettings:
    """Submission settings on this test's topics and database."""
    return SubmissionSettings(
        **{
            **settings.model_dump(),
            "submission_database_url": engine.url.render_as_string(hide_password=False),
            "submission_person_key_secret": SECRET,
            **overrides,
        }
    )


def submissions(units: list[str], count: int) -> list[AnyEvent]:
    """``count`` submissions spread over the grassroots units, round-robin."""
    return [
        initiative_submitted().model_copy(
            update={
                "event_id": uuid4(),
                "union_id": units[i % len(units)],
                "union_path": [*GRASSROOTS_PATH[:-1], units[i % len(units)]],
            }
        )
        for i in range(count)
    ]


async def stage(
    engine: AsyncEngine, topic: str, events: list[AnyEvent], *, per_commit: int = 10
) -> None:
    """Stage the events in the outbox, ``per_commit`` to a transaction, as requests would."""
    for start in range(0, len(events), per_commit):
        async with AsyncSession(engine) as session:
            for event in events[start : start + per_commit]:
                stage_event(session, topic, event)
            await session.commit()


def per_key(events: list[AnyEvent]) -> dict[str, list[str]]:
    """Event ids by unit, in order."""
    ids: dict[str, list[str]] = defaultdict(list)
    for event in events:
        ids[event.union_id].append(str(event.event_id))
    return dict(ids)


def per_key_on_topic(records: list[Any]) -> dict[str, list[str]]:
    """Event ids by record key, in topic order, first occurrence only (consumers dedupe)."""
    ids: dict[str, list[str]] = defaultdict(list)
    for record in records:
        event_id = str(decode(record.value).event_id)
        if event_id not in ids[record.key.decode()]:
            ids[record.key.decode()].append(event_id)
    return dict(ids)


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float, what: str
) -> None:
    """Poll ``condition`` until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await _value(condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        await asyncio.sleep(0.1)


async def topic_size(settings: CommonSettings, topic: str) -> int:
    """How many records the topic holds (the sum of its partitions' end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in range(settings.initiative_events_partitions)
        ]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


@asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    """Run the relays' loops for the block, then stop them."""
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield
    finally:
        for relay in relays:
            await relay.stop()
        await asyncio.gather(*tasks)


async def lease_holder(engine: AsyncEngine) -> str | None:
    """Who holds the relay lease, if anyone does."""
    async with engine.connect() as connection:
        statement = select(col(RelayLeaseRow.holder)).where(col(RelayLeaseRow.expires_at) > now())
        return (await connection.execute(statement)).scalar_one_or_none()


async def test_pending_events_are_published_in_order_per_key_and_marked(
    settings: CommonSettings, engine: AsyncEngine
) -> None:
    topic = settings.topic_initiative_events
    events = submissions(["cdcs-a", "cdcs-b", "cdcs-c", "cdcs-d"], 60)
    relay = OutboxRelay(engine, relay_settings(settings, engine, submission_relay_batch_size=7))

    async with running(relay):
        await stage(engine, topic, events)
        relay.wake()
        await wait_until(lambda: _none_pending(relay), timeout=30, what="all published")

    records = await read_records(settings.kafka_bootstrap_servers, topic, count=len(events))
    assert per_key_on_topic(records) == per_key(events)
    assert [decode(r.value) for r in records if r.key == b"cdcs-a"] == events[::4]
    assert await topic_size(settings, topic) == len(events)


async def test_a_failed_row_stops_the_marking_even_when_later_rows_were_acknowledged(
    settings: CommonSettings, engine: AsyncEngine
) -> None:
    topic, small_only = settings.topic_initiative_events, f"{settings.topic_alerts}.small-only"
    await ensure_topics(
        settings.kafka_servers, [TopicSpec(small_only, 1, {"max.message.bytes": "2000"})]
    )
    first, last = submissions(["cdcs-a"], 2)
    await stage(engine, topic, [first])
    async with AsyncSession(engine) as session:  # the broker rejects it: too large for its topic
        session.add(OutboxRow(event_id=str(uuid4()), topic=small_only, key="cdcs-a",
                              payload="x" * 10_000, created_at=now()))  # fmt: skip
        await session.commit()
    await stage(engine, topic, [last])
    relay = OutboxRelay(engine, relay_settings(settings, engine))

    with pytest.raises(MessageSizeTooLargeError):
        await relay.publish_pending_once()
    await relay.stop()

    assert await relay.pending() == 2  # the rejected row and the one after it
    records = await read_records(settings.kafka_bootstrap_servers, topic, count=2)
    assert [decode(r.value) for r in records] == [first, last]  # the last: acknowledged, unmarked
    assert await topic_size(settings, topic) == 2


async def test_only_the_lease_holder_publishes_until_it_stops_or_its_lease_expires(
    settings: CommonSettings, engine: AsyncEngine
) -> None:
    topic = settings.topic_initiative_events
    first = OutboxRelay(engine, relay_settings(settings, engine), holder="first")
    second = OutboxRelay(engine, relay_settings(settings, engine), holder="second")
    assert await first.publish_pending_once() == 0  # takes the lease on an empty outbox

    await stage(engine, topic, submissions(["cdcs-a"], 5))
    assert await second.publish_pending_once() == 0
    assert await second.pending() == 5
    assert await lease_holder(engine) == "first"

    await first.stop()  # hands the lease over at once
    assert await second.publish_pending_once() == 5
    assert await lease_holder(engine) == "second"

    await _expire_lease(engine)  # as if the second had crashed 10 s ago
    await stage(engine, topic, submissions(["cdcs-a"], 3))
    third = OutboxRelay(engine, relay_settings(settings, engine), holder="third")
    assert await third.publish_pending_once() == 3
    assert await second.publish_pending_once() == 0
    await second.stop()
    await third.stop()
    assert await topic_size(settings, topic) == 8


async def test_two_relays_running_together_publish_every_event_once(
    settings: CommonSettings, engine: AsyncEngine
) -> None:
    topic = settings.topic_initiative_events
    events = submissions([f"cdcs-{n}" for n in range(6)], 150)
    relays = [
        OutboxRelay(engine, relay_settings(settings, engine, submission_relay_batch_size=10))
        for _ in range(2)
    ]

    async with running(*relays):
        for start in range(0, len(events), 30):
            await stage(engine, topic, events[start : start + 30])
            for relay in relays:
                relay.wake()
        await wait_until(lambda: _none_pending(relays[0]), timeout=30, what="all published")
        assert await lease_holder(engine) in {relay.holder for relay in relays}

    assert await topic_size(settings, topic) == len(events)
    records = await read_records(settings.kafka_bootstrap_servers, topic, count=len(events))
    assert per_key_on_topic(records) == per_key(events)


async def test_the_pending_gauge_follows_the_backlog(
    settings: CommonSettings, engine: AsyncEngine
) -> None:
    topic = settings.topic_initiative_events
    nowhere = relay_settings(settings, engine, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    cut_off = OutboxRelay(engine, nowhere)
    await stage(engine, topic, submissions(["cdcs-a", "cdcs-b"], 6))

    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await cut_off.publish_pending_once()
    assert _gauge("outbox_pending_events") == 6
    assert _gauge("outbox_relay_lease_held") == 1
    await cut_off.stop()

    relay = OutboxRelay(engine, relay_settings(settings, engine))
    assert await relay.publish_pending_once() == 6
    assert _gauge("outbox_pending_events") == 0
    await relay.stop()
    assert _gauge("outbox_relay_lease_held") == 0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaServer]:
    """A broker of this test's own, which the test stops and starts again."""
    server = start_kafka(workdir=tmp_path / "k", port=free_port(), log=lambda _line: None)
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_events_staged_while_kafka_is_down_are_published_in_order_once_it_is_back(
    settings: CommonSettings, sqlite_url: str, broker: KafkaServer
) -> None:
    own = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers})
    topic = own.topic_initiative_events
    await ensure_topics(own.kafka_servers, topic_specs(own))
    units = [f"cdcs-{n}" for n in range(10)]
    before, during = submissions(units, 20), submissions(units, 200)

    async with migrated(sqlite_url) as engine:
        relay = OutboxRelay(engine, relay_settings(own, engine))
        await _publish_through_an_outage(relay, engine, broker, topic, before, during)

    records = await read_records(own.kafka_bootstrap_servers, topic, count=220, timeout=60)
    assert per_key_on_topic(records) == per_key(before + during)
    assert await topic_size(own, topic) == 220  # the stuck round's sends were dropped, not late


async def _publish_through_an_outage(
    relay: OutboxRelay,
    engine: AsyncEngine,
    broker: KafkaServer,
    topic: str,
    before: list[AnyEvent],
    during: list[AnyEvent],
) -> None:
    """Publish ``before``, stop the broker, stage ``during``, start the broker, catch up."""
    async with running(relay):
        await stage(engine, topic, before)
        relay.wake()
        await wait_until(
            lambda: _none_pending(relay), timeout=30, what="published before the outage"
        )

        await asyncio.to_thread(broker.stop)
        failures = _gauge("outbox_publish_failures_total")
        await stage(engine, topic, during[:100])  # requests keep committing while Kafka is down
        relay.wake()
        await wait_until(
            lambda: _gauge("outbox_publish_failures_total") >= failures + 3,
            timeout=60,
            what="three failed rounds",
        )
        await stage(engine, topic, during[100:])
        assert await relay.pending() == 200

        await asyncio.to_thread(_restart, broker)
        await wait_until(lambda: _none_pending(relay), timeout=60, what="caught up")


def _restart(server: KafkaServer) -> None:
    """Start the stopped broker again on its data folder and ports."""
    # start_kafka() cannot restart on a kept folder: it formats it with a new cluster id, which
    # Kafka 4.1 refuses. The process itself can be started again with the same command.
    server.process.start()
    bootstrap = server.bootstrap_servers
    server.process.wait_ready(
        lambda: asyncio.run(check_kafka(bootstrap, timeout=2.0)) > 0,
        timeout=120,
        what="answering metadata requests",
    )


async def _none_pending(relay: OutboxRelay) -> bool:
    return await relay.pending() == 0


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else result


async def _expire_lease(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(RelayLeaseRow).values(expires_at=now()))


def _gauge(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, f"{name} is not exported"
    return value


@pytest.mark.slow
async def test_rows_kafka_acknowledged_are_marked_next_round_not_sent_again(
    settings: CommonSettings, sqlite_url: str
) -> None:
    # A long batch registration holds SQLite's write lock (9 s, past the 5 s busy timeout) just
    # as the relay marks what Kafka acknowledged: the marking fails. The next round marks
    # those rows first; before, it published them again.
    async with migrated(sqlite_url) as engine:
        topic = settings.topic_initiative_events
        events = submissions(["cdcs-a", "cdcs-b"], 6)
        await stage(engine, topic, events)
        other_writer = sqlite3.connect(
            sqlite_url.split("///", 1)[1], isolation_level=None, check_same_thread=False
        )
        release = threading.Timer(9.0, other_writer.execute, args=["COMMIT"])

        def producer_locked_by_another_writer() -> AIOKafkaProducer:
            producer = create_producer(relay_settings(settings, engine))
            send = producer.send

            async def send_then_lock(*args: Any, **kwargs: Any) -> Any:
                if not release.is_alive() and not release.finished.is_set():
                    other_writer.execute("BEGIN IMMEDIATE")  # a batch registration begins
                    release.start()
                return await send(*args, **kwargs)

            producer.send = send_then_lock  # type: ignore[method-assign]
            return producer

        relay = OutboxRelay(
            engine,
            relay_settings(settings, engine),
            producer_factory=producer_locked_by_another_writer,
        )
        try:
            with pytest.raises(OperationalError):
                await relay.publish_pending_once()
            release.join()
            second_round = await relay.publish_pending_once()
        finally:
            release.cancel()
            other_writer.close()
            await relay.stop()

        assert second_round == 0
        assert await relay.pending() == 0
        assert await topic_size(settings, topic) == len(events)
