"""Registrations per second through the submission service, against bare inserts of the rows."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import inspect
import itertools
import json
import math
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession as SQLAlchemyAsyncSession

from services.submission.adapters.relay import OutboxRelay
from services.submission.adapters.tables import InitiativeRow, OutboxRow, StatusChangeRow
from services.submission.api import initiatives as initiatives_api
from services.submission.app import create_app
from services.submission.domain.access import Principal, Role
from services.submission.domain.duplicates import normalize_title
from services.submission.schemas import MAX_BATCH, CampaignCreate, UnitCreate
from services.submission.service import campaigns, tokens, units
from services.submission.service import initiatives as initiatives_service
from services.submission.service.initiatives import Registrar
from services.submission.service.unit_of_work import UnitOfWork
from shared.events import UnionLevel
from shared.kafka.topics import ensure_topics, topic_specs
from shared.settings import SubmissionSettings, env_name

try:
    from bench._common import (
        BASELINE,
        CANDIDATE,
        TITLES,
        Aim,
        Figure,
        machine,
        schedule,
    )
    from bench._common import write_results as write_results_file
except ImportError:  # run as `python bench/submission.py`: bench/ itself is on sys.path
    from _common import (  # type: ignore[no-redef]
        BASELINE,
        CANDIDATE,
        TITLES,
        Aim,
        Figure,
        machine,
        schedule,
    )
    from _common import write_results as write_results_file  # type: ignore[no-redef]

DESCRIPTION = f"""\
Sustained registrations per second through the submission service, with the outbox relay
publishing to a real Kafka broker, on SQLite and on PostgreSQL.

Candidates (the real app, create_app(settings) with its lifespan and the relay running,
driven in-process by httpx.AsyncClient over httpx.ASGITransport):
  single  POST /initiatives, one registration a request, from --concurrency concurrent
          clients (8); registrations/s over the run, and each request's latency p50/p99.
  batch   POST /initiatives/batch, --batch-size rows a request (1000, the API's maximum),
          one request at a time; rows/s over the run.
Baselines (the same run, the same engine app.state.engine, SQLAlchemy Core insert):
  single  one INSERT INTO initiatives a transaction, from the same number of concurrent
          tasks: the floor the storage sets, without HTTP, auth, checks, authors, history,
          outbox or the duplicate search.
  batch   one transaction of --batch-size rows (executemany) a request-equivalent.

Every registration has its own title and author, so the duplicate search runs and finds
nothing. The rows are built before the clock starts, the request bodies already encoded.
A request that fails (the app raises: a 500 behind a server) is counted, not retried; rates
count confirmed rows only, latencies successful requests only.

In-process HTTP: the figures measure the app (routing, middleware, validation, use case,
SQL), not a socket or uvicorn's HTTP parsing; the client's work shares the event loop.

After each candidate run the relay's backlog is drained (not timed; the next run starts
from an empty outbox) and the drain time reported. At the end of each backend the topics'
end offsets must add up to the registrations plus the seed events, and to the outbox's
rows, or the script exits with status 1.

Then where the time goes, on SQLite (--profile-registrations, 300 a run): the floors (GET
/healthz through the same HTTP stack, bare inserts one at a time); singles one at a time
with the relay on and off, and one batch with it off (on SQLite a batch fails whenever the
relay commits during it), each timed (wall = CPU of the event-loop thread + CPU of
aiosqlite's threads + idle) with its SQL counted, then run again under cProfile (top 15
cumulative entries of the project, SQLAlchemy, aiosqlite and pydantic); and a registration's
wall time by span, timed by wrapping the service's functions in this process. cProfile
cannot follow greenlet switches (SQLAlchemy's asyncio layer): its shares are checked against
the relay on/off difference, and the spans are the figures to trust.

Broker: {env_name("kafka_bootstrap_servers")} when set (the run's topics are deleted at the
end), otherwise a throwaway broker started by deploy.launcher (needs Java 17+). PostgreSQL:
a throwaway cluster started by deploy.launcher (fsync off, as for the tests).

Figures are medians of interleaved rounds, and ratios candidate / bare insert: compare
ratios between runs, not rates. Results also go to bench/results/submission.json.
"""

BACKENDS = ("sqlite", "postgresql")
AIM_BATCH_RATIO = 0.60
AIM_SINGLE_RATE = 500.0
AIM_SINGLE_P99_MS = 50.0
# Bare-insert rows would only warm the engine: a few requests of each kind warm the app too.
WARMUP_SINGLES, WARMUP_BATCH = 20, 50
DRAIN_POLL_SECONDS = 0.025
PROFILE_REGISTRATIONS = 300
TOP_ENTRIES = 15

CAMPAIGN = "bench-dot-cao-diem"
ROOT = "tong-ldld-vn"
OFFICER = "bench-officer-01"
# A handful of grassroots units in two provinces: the registrar loads each unit once a batch.
HIERARCHY = [
    (ROOT, None, UnionLevel.NATIONAL, "Tổng Liên đoàn Lao động Việt Nam"),
    ("dak-lak", ROOT, UnionLevel.PROVINCE, "LĐLĐ tỉnh Đắk Lắk"),
    ("dak-lak-giao-duc", "dak-lak", UnionLevel.UPPER_LEVEL, "Công đoàn ngành Giáo dục Đắk Lắk"),
    ("cdcs-thpt-buon-ma-thuot", "dak-lak-giao-duc", UnionLevel.GRASSROOTS, "CĐCS THPT BMT"),
    ("cdcs-thpt-chu-van-an", "dak-lak-giao-duc", UnionLevel.GRASSROOTS, "CĐCS THPT CVA"),
    ("cdcs-thcs-tan-loi", "dak-lak-giao-duc", UnionLevel.GRASSROOTS, "CĐCS THCS Tân Lợi"),
    ("ha-noi", ROOT, UnionLevel.PROVINCE, "LĐLĐ thành phố Hà Nội"),
    ("ha-noi-cong-thuong", "ha-noi", UnionLevel.UPPER_LEVEL, "Công đoàn Công Thương Hà Nội"),
    ("cdcs-co-khi-ha-noi", "ha-noi-cong-thuong", UnionLevel.GRASSROOTS, "CĐCS Cơ khí Hà Nội"),
    ("cdcs-det-may-8-3", "ha-noi-cong-thuong", UnionLevel.GRASSROOTS, "CĐCS Dệt may 8-3"),
    ("cdcs-bia-ha-noi", "ha-noi-cong-thuong", UnionLevel.GRASSROOTS, "CĐCS Bia Hà Nội"),
]
REPOSITORY = str(Path(__file__).resolve().parent.parent)
# The profile's table keeps the code whose cost the service controls, and the libraries it picks.
PROJECT_CODE = re.compile(re.escape(REPOSITORY) + r"/(services|shared)/")
PROFILED_CODE = re.compile(PROJECT_CODE.pattern + r"|/(sqlalchemy|sqlmodel|aiosqlite|pydantic)/")


class BenchError(RuntimeError):
    """The run went wrong (an unexpected status, a relay that did not drain): no figures."""


@dataclass
class Service:
    """The running app, a client on it, an officer's headers and the grassroots units."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: SubmissionSettings
    headers: dict[str, str]
    units: list[tuple[str, str]]  # (id, stored path) of each grassroots unit
    seed_events: int
    serial: Iterator[int] = field(default_factory=itertools.count)
    registered: int = 0  # created through the API, warm-up included

    @property
    def engine(self) -> AsyncEngine:
        """The app's engine: the baseline inserts through it too."""
        engine: AsyncEngine = self.app.state.engine
        return engine

    @property
    def relay(self) -> OutboxRelay:
        """The app's outbox relay."""
        relay: OutboxRelay = self.app.state.relay
        return relay


@dataclass
class Run:
    """One timed run: how long it took, rows confirmed, each successful call's latency (s)."""

    elapsed: float
    rows: int
    latencies: list[float]
    failures: Counter[str] = field(default_factory=Counter)  # error -> requests it failed

    @property
    def rate(self) -> float:
        """Rows per second over the run."""
        return self.rows / self.elapsed


@dataclass
class BackendResult:
    """Everything measured on one backend."""

    backend: str
    single: Figure
    batch: Figure
    latencies: dict[str, list[float]]  # side -> every single request's latency, all rounds
    drains: dict[str, list[dict[str, float]]]  # figure -> per candidate run: backlog, seconds
    failures: dict[str, Counter[str]] = field(default_factory=dict)  # "single candidate" -> …
    final_drain_seconds: float = 0.0
    registrations: int = 0
    seed_events: int = 0
    outbox_rows: int = 0
    published: int = 0
    stored: int = 0  # registrations in the database (a status history row each; bare rows none)

    @property
    def verified(self) -> bool:
        """Every registration and seed event is on Kafka, once."""
        expected = self.registrations + self.seed_events
        return self.published == expected == self.outbox_rows


# --- the app and its data -------------------------------------------------------------------


def _settings(
    database_url: str, bootstrap: str, topics: str, *, relay: bool = True
) -> SubmissionSettings:
    """The app's settings: relay on, this run's own topics, the secret from the environment."""
    return SubmissionSettings(
        submission_database_url=database_url,
        submission_relay_enabled=relay,
        kafka_bootstrap_servers=bootstrap,
        topic_initiative_events=f"{topics}.initiative-events",
        topic_registry=f"{topics}.registry",
        topic_alerts=f"{topics}.alerts",
        topic_dead_letter=f"{topics}.dead-letter",
        submission_person_key_secret=os.environ[env_name("submission_person_key_secret")],
        # The per-token limit guards against a runaway client; one token sends everything here,
        # and the figures are the app's capacity, not the limit's.
        submission_registration_rate_per_second=1e9,
        submission_registration_burst=10**9,
        # The app logs nothing per request; WARNING only keeps the lifespan's lines out of the
        # table, so the figures are the same as at INFO.
        log_level="WARNING",
    )


@asynccontextmanager
async def running_service(settings: SubmissionSettings) -> AsyncIterator[Service]:
    """Start the app (migrations, relay), seed units, a campaign and an officer's token."""
    await ensure_topics(
        settings.kafka_servers,
        topic_specs(settings),
        replication_factor=settings.kafka_replication_factor,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        token, grassroots = await _seed(app, settings)
        async with app.state.engine.connect() as connection:
            seed_events = (await connection.execute(_OUTBOX_ROWS)).scalar_one()
        # In-process over ASGI, not uvicorn on a socket: the baseline must insert through this
        # app's own engine, the drain check asks this app's relay, and the profile needs this
        # process. A socket would add uvicorn's HTTP parsing and a second Python process on two
        # cores already shared with Kafka and PostgreSQL: the machine more than the app.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://submission") as client:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            yield Service(app, client, settings, headers, grassroots, seed_events)


_OUTBOX_ROWS = select(func.count()).select_from(OutboxRow)
_REGISTERED = select(func.count(func.distinct(StatusChangeRow.initiative_id)))


async def _seed(app: FastAPI, settings: SubmissionSettings) -> tuple[str, list[tuple[str, str]]]:
    """The hierarchy, a campaign covering today, an officer token over the whole tree."""
    # The same use cases as tests/submission_world.py (tests/ is not a package to import).
    system = Principal("seed", "seed", Role.ADMIN, ROOT)
    today = date.today()
    grassroots = []
    async with app.state.uow.transaction() as session:
        for unit_id, parent, level, name in HIERARCHY:
            row = await units.create_unit(
                session,
                settings,
                system,
                UnitCreate(id=unit_id, parent_id=parent, level=level, name=name),
            )
            await session.flush()
            if level == UnionLevel.GRASSROOTS:
                grassroots.append((unit_id, row.path))
        starts, ends = today - timedelta(days=10), today + timedelta(days=25)
        body = CampaignCreate(
            id=CAMPAIGN,
            name="Đợt cao điểm (benchmark)",
            organiser_id=ROOT,
            starts_on=starts,
            ends_on=ends,
            eligible_from=starts - timedelta(days=365),
            eligible_to=ends,
        )
        await campaigns.define_campaign(session, settings, system, body, replace=False)
        issued = await tokens.issue(
            session,
            role=Role.OFFICER,
            scope_union_id=ROOT,
            actor_id=OFFICER,
            label="benchmark",
            valid_for=timedelta(hours=2),
        )
    return issued.token, grassroots


def _registration(service: Service) -> dict[str, Any]:
    """A valid registration body, its title and author never used before."""
    n = next(service.serial)
    unit_id, _ = service.units[n % len(service.units)]
    today = date.today()
    return {
        "campaign_id": CAMPAIGN,
        "union_id": unit_id,
        "title": f"{TITLES[n % len(TITLES)]} số {n}",
        "summary": "Số hoá hồ sơ nhập học, giảm thời gian chờ của phụ huynh.",
        "field": "Giáo dục và đào tạo",
        "authors": [{"name": f"Nguyễn Thị Hoa {n}", "category": "public_service_staff"}],
        "recognised_by": "initiative_council",
        "recognised_on": (today - timedelta(days=3)).isoformat(),
        "application_date": (today - timedelta(days=30)).isoformat(),
        "estimated_benefit_vnd": 15_000_000 + n,
    }


def _encoded(document: Any) -> bytes:
    # Encoded before the clock starts: the client's JSON encoding is not the service's cost.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _bare_row(service: Service) -> dict[str, Any]:
    """The initiatives row the registrar would write for a fresh registration, as Core values."""
    body = _registration(service)
    path = dict(service.units)[body["union_id"]]
    moment = datetime.now(UTC)
    return {
        "id": str(uuid.uuid4()),
        "campaign_id": body["campaign_id"],
        "union_id": body["union_id"],
        "union_path": path,
        "title": body["title"],
        "title_normalized": normalize_title(body["title"]),
        "summary": body["summary"],
        "field": body["field"],
        "estimated_benefit_vnd": body["estimated_benefit_vnd"],
        "application_date": date.fromisoformat(body["application_date"]),
        "recognised_by": body["recognised_by"],
        "recognised_on": date.fromisoformat(body["recognised_on"]),
        "award": None,
        "attachments": "[]",
        "entered_by": OFFICER,
        "external_ref": None,
        "status": "submitted",
        "possible_duplicate_of": None,
        "submitted_at": moment,
        "updated_at": moment,
    }


# --- the four drivers -----------------------------------------------------------------------


async def _concurrently(
    count: int,
    concurrency: int,
    one: Callable[[int], Awaitable[int]],
    progress: Progress,
    label: str,
) -> Run:
    """Run ``one(i)`` (rows it confirmed) for i < count from ``concurrency`` tasks; time them.

    A call that raises is counted, not retried: the app would answer it with a 500, and a
    retry of a batch the app half-committed registers its rows twice. The rate counts only
    the rows confirmed, and the latencies only the calls that succeeded.
    """
    task = progress.add_task(label, total=count)
    indexes = iter(range(count))
    run = Run(0.0, 0, [])

    async def client() -> None:
        for i in indexes:  # shared: each task takes the next index as soon as it is free
            started = time.perf_counter()
            try:
                confirmed = await one(i)  # awaited first: `run.rows += await …` loses updates
            except BenchError:
                raise
            except Exception as error:  # what uvicorn would answer with a 500
                first_line = next(iter(str(error).splitlines()), "")
                run.failures[f"{type(error).__name__}: {first_line}"] += 1
            else:
                run.rows += confirmed
                run.latencies.append(time.perf_counter() - started)
            progress.advance(task)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - started
    return run


async def post_singles(
    service: Service, count: int, concurrency: int, progress: Progress, label: str
) -> Run:
    """Candidate: ``count`` POST /initiatives from ``concurrency`` clients."""
    bodies = [_encoded(_registration(service)) for _ in range(count)]
    client, headers = service.client, service.headers

    async def one(i: int) -> int:
        response = await client.post("/initiatives", content=bodies[i], headers=headers)
        if response.status_code != 201:
            raise BenchError(f"POST /initiatives: {response.status_code} {response.text[:500]}")
        return 1

    run = await _concurrently(count, concurrency, one, progress, label)
    service.registered += run.rows
    return run


async def bare_singles(
    service: Service, count: int, concurrency: int, progress: Progress, label: str
) -> Run:
    """Baseline: ``count`` one-row transactions into initiatives, same concurrency."""
    rows = [_bare_row(service) for _ in range(count)]
    statement = insert(InitiativeRow.__table__)
    engine = service.engine

    async def one(i: int) -> int:
        async with engine.begin() as connection:
            await connection.execute(statement, rows[i])
        return 1

    return await _concurrently(count, concurrency, one, progress, label)


async def post_batches(
    service: Service, batches: int, size: int, progress: Progress, label: str
) -> Run:
    """Candidate: ``batches`` POST /initiatives/batch of ``size`` rows, one at a time."""
    bodies = [
        _encoded({"initiatives": [_registration(service) for _ in range(size)]})
        for _ in range(batches)
    ]
    limit = service.settings.submission_max_body_bytes
    if max(map(len, bodies)) > limit:
        raise BenchError(f"a batch body is over the service's {limit:,}-byte limit")
    client, headers = service.client, service.headers

    async def one(i: int) -> int:
        response = await client.post("/initiatives/batch", content=bodies[i], headers=headers)
        created = response.json().get("created") if response.status_code == 200 else None
        if created != size:
            raise BenchError(f"POST /initiatives/batch: {response.status_code}, created {created}")
        return size

    run = await _concurrently(batches, 1, one, progress, label)
    service.registered += run.rows
    return run


async def bare_batches(
    service: Service, batches: int, size: int, progress: Progress, label: str
) -> Run:
    """Baseline: ``batches`` transactions of ``size`` rows (executemany), one at a time."""
    chunks = [[_bare_row(service) for _ in range(size)] for _ in range(batches)]
    statement = insert(InitiativeRow.__table__)
    engine = service.engine

    async def one(i: int) -> int:
        async with engine.begin() as connection:
            await connection.execute(statement, chunks[i])
        return size

    return await _concurrently(batches, 1, one, progress, label)


# --- the relay and Kafka --------------------------------------------------------------------


async def drain(relay: OutboxRelay, timeout: float) -> tuple[int, float]:
    """Wait until the relay has published everything; return the backlog and the seconds."""
    backlog = await relay.pending()
    started = time.perf_counter()
    while await relay.pending():
        if time.perf_counter() - started > timeout:
            raise BenchError(f"the relay left rows unpublished after {timeout:g} s")
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    return backlog, time.perf_counter() - started


async def published(settings: SubmissionSettings) -> int:
    """Records on all of the run's topics: the sum of their partitions' end offsets."""
    partitions = [
        TopicPartition(spec.name, partition)
        for spec in topic_specs(settings)
        for partition in range(spec.partitions)
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def delete_topics(settings: SubmissionSettings) -> None:
    """Delete the run's topics (only on a broker that outlives the run)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([spec.name for spec in topic_specs(settings)])
    finally:
        await admin.close()


# --- one backend ----------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    # Transient: the bar is for watching; the line printed after each run is the record.
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console, transient=True)


async def bench_backend(
    backend: str, settings: SubmissionSettings, args: argparse.Namespace, console: Console
) -> BackendResult:
    """Interleaved rounds of both figures on one backend, then the Kafka check."""
    result = BackendResult(
        backend,
        Figure("single registrations", "registrations/s"),
        Figure("batch registrations", "rows/s"),
        latencies={BASELINE: [], CANDIDATE: []},
        drains={"single": [], "batch": []},
    )
    async with running_service(settings) as service:
        with _progress(console) as progress:
            # Untimed warm-up: compiled statements, the relay's producer, pydantic's caches.
            await post_singles(service, WARMUP_SINGLES, args.concurrency, progress, "warm-up")
            await post_batches(service, 1, WARMUP_BATCH, progress, "warm-up")
            await bare_singles(service, WARMUP_SINGLES, args.concurrency, progress, "warm-up")
            await bare_batches(service, 1, WARMUP_BATCH, progress, "warm-up")
            await drain(service.relay, args.drain_timeout)
            for round_, side in schedule(args.rounds):
                for name in ("single", "batch"):
                    label = f"{backend} {name} {side} round {round_}"
                    run = await _one_run(service, name, side, args, progress, label)
                    line = await _record(result, service, name, side, run, args.drain_timeout)
                    progress.console.print(f"{label}: {line}")
        _, result.final_drain_seconds = await drain(service.relay, args.drain_timeout)
        async with service.engine.connect() as connection:
            result.outbox_rows = (await connection.execute(_OUTBOX_ROWS)).scalar_one()
            result.stored = (await connection.execute(_REGISTERED)).scalar_one()
        result.registrations, result.seed_events = service.registered, service.seed_events
    result.published = await published(settings)
    verdict = "ok" if result.verified else "[red]MISMATCH[/red]"
    console.print(
        f"{backend} Kafka check: end offsets sum {result.published:,}; registrations confirmed "
        f"by the API {result.registrations:,} + seed events {result.seed_events:,} = "
        f"{result.registrations + result.seed_events:,}; outbox rows {result.outbox_rows:,} "
        f"{verdict}"
    )
    if result.stored != result.registrations:
        console.print(
            f"[red]{backend}: the database holds {result.stored:,} registrations, the API "
            f"confirmed {result.registrations:,}: requests that failed (500) left rows "
            "committed[/red]"
        )
    return result


async def _record(
    result: BackendResult, service: Service, name: str, side: str, run: Run, timeout: float
) -> str:
    """Add a run to the result (draining the relay after a candidate); return its line."""
    line = f"{run.rows:,} rows confirmed in {run.elapsed:.2f} s, {run.rate:,.0f}/s"
    if run.failures:
        result.failures.setdefault(f"{name} {side}", Counter()).update(run.failures)
        line += f", [red]{run.failures.total()} requests failed[/red]"
    if name == "single":
        line += f", p50 {_ms(run.latencies, 0.5)} p99 {_ms(run.latencies, 0.99)} ms"
        result.latencies[side].extend(run.latencies)
    if side == CANDIDATE:
        # Drained before the next run, so no run pays for an earlier one's backlog.
        backlog, seconds = await drain(service.relay, timeout)
        result.drains[name].append({"backlog": backlog, "seconds": seconds})
        line += f"; relay backlog {backlog:,} drained in {seconds:.2f} s"
    (result.single if name == "single" else result.batch).add(side, run.rate)
    return line


async def _one_run(
    service: Service,
    name: str,
    side: str,
    args: argparse.Namespace,
    progress: Progress,
    label: str,
) -> Run:
    """One timed run of a figure's side."""
    if name == "single":
        driver = post_singles if side == CANDIDATE else bare_singles
        return await driver(service, args.singles, args.concurrency, progress, label)
    batches = post_batches if side == CANDIDATE else bare_batches
    return await batches(service, args.batches, args.batch_size, progress, label)


# --- the profile ----------------------------------------------------------------------------


class StatementCounter:
    """Counts what the engine sends (statements by kind and table, commits, checkouts)."""

    _TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)

    def __init__(self, engine: AsyncEngine) -> None:
        self.counts: Counter[str] = Counter()
        self._engine = engine.sync_engine
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = [
            (self._engine, "before_cursor_execute", self._statement),
            (self._engine, "commit", lambda *_: self.counts.update(["COMMIT"])),
            (self._engine.pool, "checkout", lambda *_: self.counts.update(["pool checkout"])),
            (self._engine.pool, "reset", lambda *_: self.counts.update(["pool reset (rollback)"])),
        ]

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        table = self._TABLE.search(statement)
        self.counts[f"{verb} {table.group(1) if table else ''}".strip()] += 1

    def __enter__(self) -> StatementCounter:
        for target, name, listener in self._listeners:
            event.listen(target, name, listener)
        return self

    def __exit__(self, *_: object) -> None:
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)


def _phases() -> list[tuple[str, Any, str, str]]:
    """The spans timed by wrapping: label, owner, attribute, kind (cm, async or sync)."""
    # Each is patched where it is looked up at call time (a module that imported it by name).
    return [
        ("authentication: read-only session, token SELECT", UnitOfWork, "read_only", "cm"),
        ("write transaction, BEGIN to COMMIT and close", UnitOfWork, "transaction", "cm"),
        ("  Registrar.register: unit, campaign, rules, _write", Registrar, "register", "async"),
        ("    Registrar._write: keys, duplicates, rows, 1st flush", Registrar, "_write", "async"),
        (
            "      duplicate search (_candidates, one SELECT)",
            initiatives_service,
            "_candidates",
            "async",
        ),
        (
            "      outbox event built and encoded (stage_event)",
            initiatives_service,
            "stage_event",
            "sync",
        ),
        (
            "  read-back for the response (get_initiative)",
            initiatives_api,
            "get_initiative",
            "async",
        ),
        ("  ORM flushes, both (the INSERTs)", SQLAlchemyAsyncSession, "flush", "async"),
    ]


class _TimedContext:
    """An async context manager that adds its wall time, enter to exit, to a counter."""

    def __init__(self, inner: Any, label: str, spent: Counter[str]) -> None:
        self._inner, self._label, self._spent = inner, label, spent

    async def __aenter__(self) -> Any:
        self._started = time.perf_counter()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            self._spent[self._label] += time.perf_counter() - self._started


def _timed(original: Any, label: str, kind: str, spent: Counter[str]) -> Any:
    """``original`` wrapped to add each call's wall time to ``spent[label]``."""
    if kind == "cm":

        def context(*args: Any, **kwargs: Any) -> _TimedContext:
            return _TimedContext(original(*args, **kwargs), label, spent)

        return functools.wraps(original)(context)
    if kind == "async":

        async def coroutine(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        return functools.wraps(original)(coroutine)

    def function(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    return functools.wraps(original)(function)


@contextmanager
def phase_timers() -> Iterator[Counter[str]]:
    """Time the spans of :func:`_phases` while the block runs (seconds, summed per label)."""
    spent: Counter[str] = Counter()
    patched = []
    try:
        for label, owner, attribute, kind in _phases():
            # Static: an inherited method (UnitOfWork.read_only is shared.database's) counts too.
            original = inspect.getattr_static(owner, attribute)
            own = attribute in vars(owner)
            setattr(owner, attribute, _timed(original, label, kind, spent))
            patched.append((owner, attribute, original, own))
        yield spent
    finally:
        for owner, attribute, original, own in patched:
            if own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)


@dataclass
class Examined:
    """One kind of registration looked at closely: timed and counted, then profiled."""

    run: Run
    breakdown: dict[str, float]
    statements: dict[str, float]  # per registration
    stats: pstats.Stats
    profiled_seconds: float


async def _examine(
    service: Service, run: Callable[[], Awaitable[Run]], count: int, timeout: float
) -> Examined:
    """Time ``run`` (with the relay's drain) and count its SQL, then run it again profiled."""
    relay = service.settings.submission_relay_enabled
    # Unprofiled first: cProfile slows Python code several-fold, not the waiting.
    wall, main_cpu, all_cpu = time.perf_counter(), time.thread_time(), time.process_time()
    with StatementCounter(service.engine) as counter:
        plain = await run()
        if relay:
            await drain(service.relay, timeout)
    wall, main_cpu, all_cpu = (
        time.perf_counter() - wall,
        time.thread_time() - main_cpu,
        time.process_time() - all_cpu,
    )
    breakdown = {
        "wall_ms": wall / count * 1000,
        "event_loop_thread_cpu_ms": main_cpu / count * 1000,
        "other_threads_cpu_ms": max(all_cpu - main_cpu, 0.0) / count * 1000,
        "idle_ms": max(wall - all_cpu, 0.0) / count * 1000,
    }
    statements = {kind: n / count for kind, n in counter.counts.items()}
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    await run()
    if relay:
        await drain(service.relay, timeout)
    profiler.disable()
    elapsed = time.perf_counter() - started
    return Examined(plain, breakdown, statements, pstats.Stats(profiler), elapsed)


async def profile(
    settings: SubmissionSettings,
    relay_off: SubmissionSettings,
    args: argparse.Namespace,
    console: Console,
) -> dict[str, Any]:
    """Where the time goes on SQLite: floors, singles with and without the relay, a batch."""
    count = args.profile_registrations
    timeout = args.drain_timeout
    floors: dict[str, Run] = {}
    examined: dict[str, Examined] = {}
    async with running_service(settings) as service:
        with _progress(console) as progress:
            await post_singles(service, WARMUP_SINGLES, 1, progress, "warm-up")
            await drain(service.relay, timeout)
            client = service.client
            floors["GET /healthz (HTTP stack, no SQL)"] = await _concurrently(
                count, 1, lambda _: _healthz(client), progress, "healthz"
            )
            floors["bare insert, one at a time"] = await bare_singles(
                service, count, 1, progress, "bare"
            )
            examined["singles one at a time, relay on"] = await _examine(
                service, lambda: post_singles(service, count, 1, progress, "single"), count, timeout
            )
    # The relay off: what waking it after each commit costs the singles; and the batch, which
    # on SQLite fails whenever the relay commits during it (see the figures).
    async with running_service(relay_off) as service:
        with _progress(console) as progress:
            await post_singles(service, WARMUP_SINGLES, 1, progress, "warm-up")
            await post_batches(service, 1, WARMUP_BATCH, progress, "warm-up")
            examined["singles one at a time, relay off"] = await _examine(
                service,
                lambda: post_singles(service, count, 1, progress, "relay off"),
                count,
                timeout,
            )
            examined[f"one batch of {count} rows, relay off"] = await _examine(
                service, lambda: post_batches(service, 1, count, progress, "batch"), count, timeout
            )
            # Wall time by span, one at a time and with nothing else running: exact, unlike a
            # profile, and the spans' sum can be checked against the client's round trip.
            with phase_timers() as spent:
                timed = await post_singles(service, count, 1, progress, "phases")
    return _print_profile(console, count, floors, examined, spent, timed)


async def _healthz(client: httpx.AsyncClient) -> int:
    """GET /healthz: the in-process HTTP stack's floor (middleware, routing, no SQL)."""
    (await client.get("/healthz")).raise_for_status()
    return 1


def _where(key: tuple[str, int, str]) -> str:
    """``file:line(function)``, the file relative to the repository or site-packages."""
    filename, line, function = key
    for marker in ("/site-packages/", f"{REPOSITORY}/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({function})" if line else function


def _top_entries(
    stats: pstats.Stats, seconds: float, pattern: re.Pattern[str], limit: int
) -> list[dict[str, Any]]:
    """The ``limit`` largest cumulative times of the functions whose file matches ``pattern``."""
    rows = [
        (key, calls, cumulative)
        for key, (_, calls, _, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
        if pattern.search(key[0])
    ]
    rows.sort(key=lambda row: row[2], reverse=True)
    return [
        {
            "function": _where(key),
            "calls": calls,
            "cumulative_s": cumulative,
            "share_of_wall": cumulative / seconds,
        }
        for key, calls, cumulative in rows[:limit]
    ]


def _print_profile(
    console: Console,
    count: int,
    floors: dict[str, Run],
    examined: dict[str, Examined],
    spent: Counter[str],
    timed: Run,
) -> dict[str, Any]:
    """Print floors, breakdowns, SQL per registration, spans and profiles; return them."""
    console.print(f"\n[bold]Where the time goes: SQLite, {count} registrations a run[/bold]")
    document: dict[str, Any] = {"registrations": count, "floors": {}, "examined": {}}
    for name, run in floors.items():
        p50, p99 = _percentile(run.latencies, 0.5), _percentile(run.latencies, 0.99)
        console.print(
            f"{name}: {run.rate:,.0f}/s, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )
        document["floors"][name] = {"rate": run.rate, "p50_ms": p50 * 1000, "p99_ms": p99 * 1000}
    for name, seen in examined.items():
        b, run = seen.breakdown, seen.run
        console.print(
            f"{name}: {run.rate:,.0f}/s, p50 {_ms(run.latencies, 0.5)} ms; per registration "
            f"{b['wall_ms']:.2f} ms wall = {b['event_loop_thread_cpu_ms']:.2f} ms CPU in the "
            f"event-loop thread + {b['other_threads_cpu_ms']:.2f} ms CPU in other threads "
            f"(aiosqlite's, running SQLite) + {b['idle_ms']:.2f} ms idle (locks, disk, Kafka)"
        )
    sql = Table(title="What the engine did per registration (the relay's work included)")
    sql.add_column("statement or event")
    for name in examined:
        sql.add_column(name.replace(", ", "\n"), justify="right")
    kinds = sorted(
        {k for seen in examined.values() for k in seen.statements},
        key=lambda k: -max(seen.statements.get(k, 0) for seen in examined.values()),
    )
    for k in kinds:
        sql.add_row(k, *(f"{seen.statements.get(k, 0):.2f}" for seen in examined.values()))
    console.print(sql)
    document["spans_ms_per_registration"] = _print_spans(console, spent, timed)
    for name, seen in examined.items():
        document["examined"][name] = {
            "rate": seen.run.rate,
            "breakdown_ms_per_registration": seen.breakdown,
            "statements_per_registration": seen.statements,
        }
        top = _top_entries(seen.stats, seen.profiled_seconds, PROFILED_CODE, TOP_ENTRIES)
        table = Table(
            title=f"{name}: cProfile, top {len(top)} cumulative of the project, SQLAlchemy, "
            "aiosqlite and pydantic",
            caption=f"event-loop thread over {seen.profiled_seconds:.2f} s wall; SQLite runs in "
            "aiosqlite's threads, unseen. cProfile loses track at greenlet switches "
            "(SQLAlchemy's asyncio layer), so shares are distorted: see the cross-check below",
        )
        table.add_column("cum. s", justify="right")
        table.add_column("% wall", justify="right")
        table.add_column("calls", justify="right")
        table.add_column("function")
        for entry in top:
            table.add_row(
                f"{entry['cumulative_s']:.3f}",
                f"{entry['share_of_wall']:.0%}",
                f"{entry['calls']:,}",
                entry["function"],
            )
        console.print(table)
        document["examined"][name] |= {
            "cprofile_seconds": seen.profiled_seconds,
            "cprofile_top_cumulative": top,
        }
    document["cprofile_check"] = _cross_check(console, examined)
    return document


def _print_spans(console: Console, spent: Counter[str], timed: Run) -> dict[str, float]:
    """The wall time of each timed span per registration, and what lies outside them."""
    count = max(timed.rows, 1)
    request = sum(timed.latencies) / count
    spans = {label: spent[label] / count for label, *_ in _phases()}  # in nesting order
    outside = request - sum(seconds for label, seconds in spans.items() if label[0] != " ")
    spans["HTTP stack, body validation, response (the rest)"] = outside
    table = Table(
        title=f"One registration at a time, relay off: wall time by span ({timed.rate:,.0f}/s)",
        caption="spans timed by wrapping the service's functions in this process; indented "
        f"spans run inside the one above; the request: {request * 1000:.2f} ms",
    )
    table.add_column("span")
    table.add_column("ms per registration", justify="right")
    table.add_column("% of request", justify="right")
    for label, seconds in spans.items():
        table.add_row(label, f"{seconds * 1000:.2f}", f"{seconds / request:.0%}")
    console.print(table)
    return {label: seconds * 1000 for label, seconds in spans.items()} | {"request": request * 1000}


def _cross_check(console: Console, examined: dict[str, Examined]) -> dict[str, float]:
    """cProfile's share for the relay against what switching it off saves."""
    on = examined["singles one at a time, relay on"]
    off = examined["singles one at a time, relay off"]
    measured = 1 - off.breakdown["wall_ms"] / on.breakdown["wall_ms"]
    stats = on.stats.stats  # type: ignore[attr-defined]
    profiled = (
        next(
            (
                v[3]
                for k, v in stats.items()
                if k[0].endswith("adapters/relay.py") and k[2] == "run"
            ),
            0.0,
        )
        / on.profiled_seconds
    )
    largest = max(v[3] for v in stats.values()) / on.profiled_seconds
    console.print(
        f"cross-check: switching the relay off saves {measured:.0%} of the wall time per single "
        f"registration; cProfile puts {profiled:.0%} under relay.py run. cProfile cannot follow "
        "greenlet switches (SQLAlchemy's asyncio layer): its largest cumulative entry is "
        f"{largest:.0%} of the wall it profiled. Trust the spans and the on/off comparison; read "
        "the profiles for which code runs, not for shares"
    )
    return {
        "relay_share_on_off": measured,
        "relay_share_cprofile": profiled,
        "largest_cumulative_share": largest,
    }


# --- the report -----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN of nothing: every request failed)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _ms(values: list[float], q: float) -> str:
    return f"{_percentile(values, q) * 1000:.1f}"


def _aims(result: BackendResult) -> dict[str, Any]:
    """Whether the issue's two aims are met on this backend."""
    rate = statistics.median(result.single.candidate)
    p99_ms = _percentile(result.latencies[CANDIDATE], 0.99) * 1000
    return {
        "batch_ratio": result.batch.ratio,
        "batch_met": result.batch.ratio >= AIM_BATCH_RATIO,
        "single_rate": rate,
        "single_p99_ms": p99_ms,
        "single_met": rate >= AIM_SINGLE_RATE and p99_ms < AIM_SINGLE_P99_MS,
    }


def print_report(
    console: Console, results: list[BackendResult], args: argparse.Namespace, load: float
) -> None:
    """The table, the aims, the relay and the machine."""
    table = Table(
        title="Submission service: registrations through the app vs bare inserts",
        caption=f"median of {args.rounds} interleaved rounds each; latency over all rounds' "
        f"requests; single: {args.singles:,} requests from {args.concurrency} concurrent "
        f"clients; batch: {args.batches} × {args.batch_size:,} rows",
    )
    for column in ("backend", "figure"):
        table.add_column(column)
    for column in ("candidate", "baseline\nbare insert", "ratio\ncand/base"):
        table.add_column(column, justify="right", style="bold" if "ratio" in column else None)
    table.add_column("candidate\np50/p99 ms", justify="right")
    table.add_column("baseline\np50/p99 ms", justify="right")
    table.add_column("failed\ncand/base", justify="right")
    for result in results:
        for name, figure in (("single", result.single), ("batch", result.batch)):
            single = name == "single"
            latency = {
                side: f"{_ms(result.latencies[side], 0.5)}/{_ms(result.latencies[side], 0.99)}"
                if single
                else "–"
                for side in (CANDIDATE, BASELINE)
            }
            table.add_row(
                result.backend,
                f"{name} {'reg' if single else 'rows'}/s",
                f"{statistics.median(figure.candidate):,.0f}",
                f"{statistics.median(figure.baseline):,.0f}",
                f"{figure.ratio:.2f}×",
                latency[CANDIDATE],
                latency[BASELINE],
                "/".join(
                    str(result.failures.get(f"{name} {side}", Counter()).total())
                    for side in (CANDIDATE, BASELINE)
                ),
            )
    console.print("candidate: the app in-process (httpx.ASGITransport), relay publishing to Kafka")
    console.print("baseline:  INSERT INTO initiatives through app.state.engine (Core), same rows")
    console.print(table)
    for result in results:
        aims = _aims(result)
        console.print(
            f"aims on {result.backend}: batch ≥ {AIM_BATCH_RATIO:.0%} of bare: "
            f"{aims['batch_ratio']:.0%} {_verdict(aims['batch_met'])}; single ≥ "
            f"{AIM_SINGLE_RATE:.0f}/s with p99 < {AIM_SINGLE_P99_MS:.0f} ms: "
            f"{aims['single_rate']:,.0f}/s, p99 {aims['single_p99_ms']:.1f} ms "
            f"{_verdict(aims['single_met'])}"
        )
    for result in results:
        for run, errors in result.failures.items():
            for error, attempts in errors.most_common():
                console.print(f"[red]failed on {result.backend}, {run}[/red]: {attempts} × {error}")
    for result in results:
        parts = []
        for name, drains in result.drains.items():
            backlog = statistics.median(d["backlog"] for d in drains)
            seconds = [d["seconds"] for d in drains]
            parts.append(
                f"after {name} runs backlog median {backlog:,.0f} rows, drained in median "
                f"{statistics.median(seconds):.2f} s (max {max(seconds):.2f} s)"
            )
        console.print(f"relay on {result.backend}: " + "; ".join(parts))
    info = machine()
    console.print(
        f"machine: {info['cpu_count']} CPUs, Python {info['python']}, {info['platform']}; "
        f"load average before the run {load:.2f} (other work on these cores skews every figure)"
    )
    console.print(
        "note: in-process HTTP (httpx.ASGITransport): measures the app, not a socket or uvicorn; "
        "the client's own work shares the event loop and is counted in the candidate's time"
    )


def _verdict(met: bool) -> str:
    return "[green]met[/green]" if met else "[red]NOT met[/red]"


def write_results(
    results: list[BackendResult],
    profiled: Any,
    args: argparse.Namespace,
    broker: str,
    load: float,
) -> Path:
    """bench/results/submission.json: figures, every round, latencies, aims, relay, profile."""
    backends = []
    for result in results:
        latency = {
            side: {
                "p50_ms": _percentile(values, 0.5) * 1000,
                "p99_ms": _percentile(values, 0.99) * 1000,
                "requests": len(values),
            }
            for side, values in result.latencies.items()
        }
        backends.append(
            {
                "backend": result.backend,
                "figures": [result.single.as_json(), result.batch.as_json()],
                "single_latency": latency,
                "aims": _aims(result),
                "failed_requests": {run: dict(errors) for run, errors in result.failures.items()},
                "relay_drains": result.drains,
                "final_drain_seconds": result.final_drain_seconds,
                "kafka_check": {
                    "registrations": result.registrations,
                    "seed_events": result.seed_events,
                    "outbox_rows": result.outbox_rows,
                    "registrations_in_database": result.stored,
                    "end_offsets_sum": result.published,
                    "ok": result.verified,
                },
            }
        )
    return write_results_file(
        "submission",
        headlines=[line for result in results for line in _headlines(result, args)],
        machine_extra={"load_average_before": load},
        checks={
            f"Kafka's end offsets = registrations confirmed + seed events ({r.backend})": r.verified
            for r in results
        },
        document={
            "parameters": {**vars(args), "broker": broker, "transport": "httpx.ASGITransport"},
            "baseline": "INSERT INTO initiatives through app.state.engine (SQLAlchemy Core)",
            "candidate": "POST /initiatives and /initiatives/batch, in-process, relay running",
            "aims": {
                "batch_ratio": AIM_BATCH_RATIO,
                "single_rate": AIM_SINGLE_RATE,
                "single_p99_ms": AIM_SINGLE_P99_MS,
            },
            "backends": backends,
            "profile": profiled,
        },
    )


def _headlines(result: BackendResult, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The backend's two figures for BENCHMARKS.md, each with the issue's aim."""
    aims = _aims(result)
    single = result.single.headline(
        f"submission ({result.backend}): single registrations, {args.concurrency} clients",
        "bare INSERTs, one a transaction, as many tasks",
        aims=[
            Aim(
                f"≥ {AIM_SINGLE_RATE:.0f}/s with p99 < {AIM_SINGLE_P99_MS:.0f} ms "
                f"(p99 {aims['single_p99_ms']:.1f} ms)",
                aims["single_met"],
            )
        ],
    )
    batch = result.batch.headline(
        f"submission ({result.backend}): batches of {args.batch_size:,} rows",
        f"bare executemany of {args.batch_size:,} rows",
        aims=[Aim(f"≥ {AIM_BATCH_RATIO:.2f}× the baseline", aims["batch_met"])],
    )
    return [single, batch]


# --- main -----------------------------------------------------------------------------------


async def run_all(
    args: argparse.Namespace,
    console: Console,
    bootstrap: str,
    urls: dict[str, str],
    profile_url: str,
    *,
    keep_topics: bool,
) -> tuple[list[BackendResult], Any]:
    """Each backend in turn, then the profile; the run's topics are deleted on a given broker."""
    run_id = uuid.uuid4().hex[:8]
    results, used = [], []
    try:
        for backend, url in urls.items():
            settings = _settings(url, bootstrap, f"bench.submission.{run_id}.{backend}")
            used.append(settings)
            results.append(await bench_backend(backend, settings, args, console))
        profiled = None
        if args.profile_registrations:
            settings = _settings(profile_url, bootstrap, f"bench.submission.{run_id}.profile")
            off = _settings(
                profile_url.replace(".db", "-relay-off.db"),
                bootstrap,
                f"bench.submission.{run_id}.relay-off",
                relay=False,
            )
            used += [settings, off]
            profiled = await profile(settings, off, args, console)
    finally:
        if not keep_topics:
            for settings in used:
                await delete_topics(settings)
    return results, profiled


def main(argv: list[str] | None = None) -> None:
    """Start Kafka (and PostgreSQL), run the backends and the profile, print, write, verify."""
    parser = argparse.ArgumentParser(
        prog="bench/submission.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend",
        choices=[*BACKENDS, "both"],
        default="both",
        help="database(s) to measure (both)",
    )
    parser.add_argument(
        "--singles", type=int, default=1000, help="single registrations per run (1000)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="concurrent clients of the single runs and their baseline (8)",
    )
    parser.add_argument("--batches", type=int, default=5, help="batches per run (5)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=MAX_BATCH,
        help=f"rows per batch, at most {MAX_BATCH} (the API's limit) ({MAX_BATCH})",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side (2)")
    parser.add_argument(
        "--profile-registrations",
        type=int,
        default=PROFILE_REGISTRATIONS,
        help=f"sequential registrations profiled on SQLite; 0 skips the "
        f"profile ({PROFILE_REGISTRATIONS})",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="seconds the relay gets to publish a backlog (60)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= MAX_BATCH:
        parser.error(f"--batch-size must be 1 to {MAX_BATCH}")
    # The migrations' env.py builds SubmissionSettings() from the environment, not from ours.
    os.environ.setdefault(
        env_name("submission_person_key_secret"), "bench-person-key-secret-" + "x" * 24
    )
    # Piped into a log, rich would wrap the tables at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    load = os.getloadavg()[0]  # before this script starts anything
    backends = BACKENDS if args.backend == "both" else (args.backend,)

    given = os.environ.get(env_name("kafka_bootstrap_servers"))
    servers: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="bench-submission-") as workdir:
        try:
            if given:
                bootstrap = given
                console.print(f"broker: {bootstrap} (from {env_name('kafka_bootstrap_servers')})")
            else:
                from deploy.launcher import start_kafka

                kafka = start_kafka(workdir=Path(workdir) / "kafka", log=console.print)
                servers.append(kafka)
                bootstrap = kafka.bootstrap_servers
            # SQLite files on the same disk as the service's default ./var, not a RAM disk.
            urls = {"sqlite": f"sqlite+aiosqlite:///{workdir}/submission.db"}
            if "postgresql" in backends:
                from deploy.launcher import start_postgres

                postgres = start_postgres(log=console.print)
                servers.append(postgres)
                libpq = postgres.create_database(f"bench_submission_{uuid.uuid4().hex[:8]}")
                urls["postgresql"] = libpq.replace("postgresql://", "postgresql+asyncpg://", 1)
            urls = {backend: urls[backend] for backend in backends}
            profile_url = f"sqlite+aiosqlite:///{workdir}/profile.db"
            results, profiled = asyncio.run(
                run_all(args, console, bootstrap, urls, profile_url, keep_topics=not given)
            )
        except BenchError as error:
            console.print(f"[red]benchmark failed:[/red] {error}")
            raise SystemExit(1) from error
        finally:
            for server in reversed(servers):
                server.stop()

    # The profile printed above; the figures last, where a reader looks first.
    print_report(console, results, args, load)
    broker = "given" if given else "throwaway single broker (deploy.launcher)"
    path = write_results(results, profiled, args, broker, load)
    console.print(f"results written to {os.path.relpath(path)}")
    if not all(result.verified for result in results):
        console.print("[red]Kafka check failed: records on the topics ≠ registrations + seed[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
