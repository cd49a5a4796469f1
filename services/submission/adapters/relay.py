"""The outbox relay: publishes committed outbox rows to Kafka in id order, one instance at a time,
at least once (an outage or a crash may repeat events, which consumers dedupe by event_id)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import Counter, Gauge
from sqlalchemy import Executable, Row, func, insert, or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from services.submission.adapters.tables import OutboxRow, RelayLeaseRow, now
from shared.kafka import create_producer
from shared.logging import get_logger
from shared.settings import SubmissionSettings

log = get_logger(__name__)

PENDING = Gauge("outbox_pending_events", "Outbox rows not yet published to Kafka (the backlog)")
PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka and marked")
FAILURES = Counter("outbox_publish_failures_total", "Relay rounds that failed to publish")
LEASE_HELD = Gauge("outbox_relay_lease_held", "1 while this instance holds the relay lease")

LEASE_TTL = timedelta(seconds=10)  # renewed each round; a crashed holder is replaced after it
# A round's budget to start the producer and get acknowledgements, kept under the lease TTL:
# aiokafka's idempotent producer never fails a send on its own while the broker is down.
PUBLISH_TIMEOUT = 5.0
BACKOFF_INITIAL, BACKOFF_MAX = 0.5, 15.0
BACKLOG_REFRESH_SECONDS = 1.0  # a COUNT costs about 40 ms per million pending rows (SQLite)

_PENDING_ROW = col(OutboxRow.published_at).is_(None)
_THE_LEASE = col(RelayLeaseRow.name) == "outbox"
# The oldest pending rows in id order, read through the partial index ix_outbox_pending.
_OLDEST_PENDING = select(OutboxRow.id, OutboxRow.topic, OutboxRow.key, OutboxRow.payload)
_OLDEST_PENDING = _OLDEST_PENDING.where(_PENDING_ROW).order_by(col(OutboxRow.id))
_KAFKA_ERRORS = (KafkaError, OSError, TimeoutError)
_Rows = Sequence[Row[tuple[int, str, str, str]]]
_Outcome = tuple[list[int], BaseException | None]  # ids acknowledged, then the first failure


class OutboxRelay:
    """Publishes the outbox to Kafka while this instance holds the lease."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: SubmissionSettings,
        *,
        holder: str | None = None,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.holder = holder or f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._engine = engine
        self._batch_size = settings.submission_relay_batch_size
        self._oldest = _OLDEST_PENDING.limit(self._batch_size)
        self._idle_seconds = settings.submission_relay_idle_seconds
        self._producer_factory = producer_factory or (lambda: create_producer(settings))
        self._producer: AIOKafkaProducer | None = None
        self._lease_held = self._lease_insert_tried = False
        self._backoff, self._counted_at = BACKOFF_INITIAL, -BACKLOG_REFRESH_SECONDS
        self._wakeup, self._stopping = asyncio.Event(), asyncio.Event()
        self._exited: asyncio.Event | None = None
        self._unmarked: list[int] = []  # acknowledged by Kafka, not yet marked published

    def wake(self) -> None:
        """Look for work now (call it after a commit that staged events)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Publish the outbox until :meth:`stop`."""
        self._exited = asyncio.Event()
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()  # a wake() during the round starts the next one at once
                delay = await self._round()
                # A backoff ignores wake(): each request would otherwise retry a Kafka that is down.
                event = self._wakeup if delay is None else self._stopping
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds if delay is None else delay):
                        await event.wait()
        finally:
            await self._discard_producer()
            self._exited.set()

    async def stop(self) -> None:
        """Let the current round finish, stop the producer and hand the lease over."""
        self._stopping.set()
        self._wakeup.set()
        if self._exited is not None:
            await self._exited.wait()
        await self._discard_producer()
        await self._release_lease()

    async def pending(self) -> int:
        """How many outbox rows wait to be published (also sets ``outbox_pending_events``)."""
        statement = select(func.count()).select_from(OutboxRow).where(_PENDING_ROW)
        async with self._engine.connect() as connection:
            PENDING.set(count := int((await connection.execute(statement)).scalar_one()))
        return count

    async def publish_pending_once(self) -> int:
        """One round: hold the lease, publish the oldest pending rows in order, mark them."""
        if not await self._hold_lease():
            await self._export_backlog(force=False)  # every instance shows the backlog
            return 0
        if self._unmarked:  # acknowledged by Kafka last round, not marked: mark, never resend
            await self._mark(self._unmarked)
        async with self._engine.connect() as connection:
            rows: _Rows = (await connection.execute(self._oldest)).all()
        try:
            acknowledged, error = await self._publish(rows) if rows else ([], None)
            if acknowledged:
                self._unmarked = acknowledged
                await self._mark(acknowledged)
        finally:
            # Below a full batch the backlog is small, so counting it is cheap.
            await self._export_backlog(force=len(rows) < self._batch_size)
        if error is not None:
            FAILURES.inc()
            await self._discard_producer()
            raise error
        return len(acknowledged)

    async def _round(self) -> float | None:
        """Run one round; return the pause before the next (None: until woken or idle)."""
        try:
            marked = await self.publish_pending_once()
        except Exception as error:  # the loop outlives any failure: a dead relay publishes nothing
            delay, self._backoff = self._backoff, min(self._backoff * 2, BACKOFF_MAX)
            event = "kafka_unavailable" if isinstance(error, _KAFKA_ERRORS) else "round_failed"
            log.warning(f"relay.{event}", error=repr(error), retry_in_seconds=delay)
            return delay
        if self._backoff > BACKOFF_INITIAL:
            log.info("relay.recovered", holder=self.holder, marked=marked)
            self._backoff = BACKOFF_INITIAL
        return 0.0 if marked >= self._batch_size else None

    async def _hold_lease(self) -> bool:
        """Take or renew the lease; False while another live instance holds it."""
        held = await self._take_lease()
        if held != self._lease_held:
            log.info("relay.lease_taken" if held else "relay.lease_lost", holder=self.holder)
        self._lease_held = held
        LEASE_HELD.set(1 if held else 0)
        return held

    async def _take_lease(self) -> bool:
        """Renew or take over the lease in one atomic UPDATE; insert it on a fresh database."""
        current = now()
        lease = {"holder": self.holder, "expires_at": current + LEASE_TTL}
        mine = col(RelayLeaseRow.holder) == self.holder
        free = or_(mine, col(RelayLeaseRow.expires_at) < current)
        if await self._execute(update(RelayLeaseRow).where(_THE_LEASE, free).values(lease)):
            return True
        if self._lease_insert_tried:  # insert once at most: PostgreSQL logs each unique violation
            return False
        self._lease_insert_tried = True
        with contextlib.suppress(IntegrityError):  # another instance inserted it first
            return bool(await self._execute(insert(RelayLeaseRow).values(name="outbox", **lease)))
        return False

    async def _release_lease(self) -> None:
        """Expire our lease, so another instance takes over now rather than in 10 s."""
        mine = col(RelayLeaseRow.holder) == self.holder
        statement = update(RelayLeaseRow).where(_THE_LEASE, mine).values(expires_at=now())
        try:
            await self._execute(statement)
        except SQLAlchemyError as error:
            log.warning("relay.lease_not_released", holder=self.holder, error=repr(error))
        self._lease_held = False
        LEASE_HELD.set(0)

    async def _publish(self, rows: _Rows) -> _Outcome:
        """Send rows in id order; return the ids acknowledged before the first failure, and it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PUBLISH_TIMEOUT
        futures: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        try:
            async with asyncio.timeout_at(deadline):
                if self._producer is None:  # kept even when start fails, so that it is closed
                    self._producer = self._producer_factory()
                    await self._producer.start()
                send = self._producer.send
                for row in rows:
                    future = await send(row.topic, row.payload.encode(), key=row.key.encode())
                    # Read every outcome: asyncio logs an exception nobody retrieved.
                    future.add_done_callback(lambda done: done.cancelled() or done.exception())
                    futures.append(future)
        except TimeoutError:
            error = KafkaTimeoutError(f"Kafka did not answer within {PUBLISH_TIMEOUT:g} s")
        except _KAFKA_ERRORS as exc:
            error = exc
        if futures:
            await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))
        acknowledged, failure = _acknowledged_prefix(rows, futures)
        return acknowledged, failure or error

    async def _discard_producer(self) -> None:
        """Close the producer, giving up what it has not delivered (those rows stay pending)."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        # aiokafka 0.14's idempotent producer retries a batch forever and stop() waits for every
        # batch, so with the broker gone stop() never returns: cancel the sender, drop the batches
        # (fail_all() instead would trip the sender's bookkeeping and leave unretrieved futures).
        with contextlib.suppress(Exception):  # a sender may also have died of its own error
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await producer._sender.close()
        producer._message_accumulator._batches.clear()
        producer._message_accumulator._pending_batches.clear()
        try:
            await producer.stop()
        except Exception as error:  # a producer that never started may not stop cleanly
            log.warning("relay.producer_stop_failed", holder=self.holder, error=repr(error))

    async def _mark(self, acknowledged: list[int]) -> None:
        """Mark rows published. Until that succeeds (SQLite busy past its timeout behind a long
        batch), they are kept to be marked first next round, not published again."""
        # A row marked already (by an earlier holder) keeps its first time.
        marked = update(OutboxRow).where(col(OutboxRow.id).in_(acknowledged), _PENDING_ROW)
        PUBLISHED.inc(await self._execute(marked.values(published_at=now())))
        self._unmarked = []

    async def _execute(self, statement: Executable) -> int:
        """Run one statement in its own transaction; return the rows it changed."""
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).rowcount

    async def _export_backlog(self, *, force: bool) -> None:
        """Refresh the pending gauge, at most once a second unless forced."""
        if force or time.monotonic() - self._counted_at >= BACKLOG_REFRESH_SECONDS:
            self._counted_at = time.monotonic()
            await self.pending()


def _acknowledged_prefix(rows: _Rows, futures: list[asyncio.Future[Any]]) -> _Outcome:
    """The ids acknowledged before the first failure in id order, and that failure."""
    acknowledged: list[int] = []
    for row, future in zip(rows, futures, strict=False):
        if not future.done() or future.cancelled():
            return acknowledged, KafkaTimeoutError(f"no acknowledgement in {PUBLISH_TIMEOUT:g} s")
        if (error := future.exception()) is not None:
            return acknowledged, error
        acknowledged.append(row.id)
    return acknowledged, None
