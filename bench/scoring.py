"""Replaying initiative events from Kafka into the Redis counters, queries running alongside."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import json
import logging
import math
import multiprocessing
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.scoring.adapters.consumer import ScoringConsumer
from services.scoring.adapters.counters import CounterStore, InitiativeEvent
from services.scoring.adapters.rankings import RankingRefresher, Rankings
from shared.counters import CounterKeys, RegistryKeys, encode_facts, read_unit
from shared.counters.read import COUNTER_FIELDS
from shared.events import (
    AnyEvent,
    AuthorCategory,
    AuthorRef,
    CampaignDefinedData,
    InitiativeReviewed,
    InitiativeReviewedData,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    InitiativeWithdrawn,
    InitiativeWithdrawnData,
    RecognisedBy,
    ReviewDecision,
    UnionLevel,
    decode,
    encode,
    partition_key,
)
from shared.kafka import create_consumer, create_producer, ensure_topics, topic_specs
from shared.redis import create_redis
from shared.settings import ScoringSettings, env_name

try:
    from bench._common import CAMPAIGN, ICT, RESULTS_DIR, ROOT, _git_revision, machine
except ImportError:  # run as `python bench/scoring.py`: bench/ itself is on sys.path
    from _common import (  # type: ignore[no-redef]
        CAMPAIGN,
        ICT,
        RESULTS_DIR,
        ROOT,
        _git_revision,
        machine,
    )

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it; plain asyncio otherwise
    uvloop = None

DESCRIPTION = f"""\
Replaying initiative events from Kafka into an empty Redis through the scoring consumer, against
two limits measured in the same run, with progress queries running during the replay.

Events: --events (1,000,000) over a hierarchy of --units (150,000) in 4 levels (1 national,
63 provinces, 700 upper-level, the rest grassroots): about 60% submissions, 30% reviews (valid or
rejected) of earlier submissions and 10% withdrawals, keyed by grassroots unit. They are made by
filling templates encoded once from the real models (building a million pydantic models would
take minutes); a sample is decoded with shared.events.decode and must re-encode to the same
bytes. They are published once with create_producer(settings) to a fresh topic of
--partitions (12); the publish rate is shown for information.

Before every run that writes to Redis the database is emptied (FLUSHDB) and the registry the
scoring service reads (units with parent, level, cluster and members; targets; the campaign) is
written straight into Redis, as the registry reader would leave it.

  K  Kafka's read limit: a consumer of its own group (max_poll_records as ScoringConsumer) reads
     the whole topic and decodes every record with shared.events.decode; applies nothing.
  R  Redis's limit: the same events in per-partition batches of --batch (2000) in offset order,
     decoded and prepared beforehand, their Lua steps (of --step events) run through
     CounterStore.execute with the ranking refresher beside, without Kafka.
  C  Candidate: the real ScoringConsumer (services/scoring/adapters/consumer.py) with a fresh
     consumer group, from an empty Redis, until every partition's committed offset reaches its
     end.
  CQ The same, while --query-rate (1000) progress queries a second go to random units from
     another process (open loop; a query due while 64 still wait is shed and counted):
     GET /campaigns/{{c}}/units/{{u}}/progress against the scoring app under uvicorn
     (SANGKIEN_SCORING_CONSUME=false) through a lean keep-alive HTTP/1.1 client (--query-via
     http; httpx.AsyncClient with --query-via httpx costs the client milliseconds of CPU a
     request here), or shared.counters.read_unit straight on Redis (--query-via read_unit).

The rounds interleave, the first side rotating (K R C CQ, R C CQ K, ...); the table shows the
median of each side and the ratio candidate / min(K, R). After each R, C and CQ run the root's
counters must equal what the generated events imply (registered + withdrawn = submissions, and
the rest), or the script exits with status 1. Where the CPU went (this process, Redis, the
broker, the query server and client), Redis's time in scripts and the scripts that held it 10 ms
or more (nobody, queries included, is answered meanwhile) are measured for every run. When the
candidate misses an aim, a --profile-events (100,000) replay of the consumer runs under cProfile.

Aims (from the issue): the million in under 60 s, at least 60% of the slower baseline, and
progress queries at 1,000 a second with p99 under 20 ms while ingest runs.

Kafka: {env_name("kafka_bootstrap_servers")} when set (the run's topics are deleted at the end),
else a throwaway broker from deploy.launcher (needs Java 17+). Redis: {env_name("redis_url")} when
set (its database must be empty: it is flushed between runs), else a throwaway redis-server
without persistence. Results go to bench/results/scoring.json.
"""

SIDES = ("K", "R", "C", "CQ")
SIDE_NAMES = {
    "K": "K: consume + decode, apply nothing",
    "R": "R: prepared Lua steps, no Kafka",
    "C": "C: ScoringConsumer, Kafka → Redis",
    "CQ": "CQ: ScoringConsumer + queries",
}
CANDIDATES = ("C", "CQ")
QUERY_VIA = {
    "http": "GET /campaigns/{c}/units/{u}/progress, uvicorn with consume off, a lean "
    "keep-alive client",
    "httpx": "GET /campaigns/{c}/units/{u}/progress, uvicorn with consume off, httpx.AsyncClient",
    "read_unit": "shared.counters.read_unit straight on Redis",
}
AIM_SECONDS_PER_MILLION = 60.0
AIM_RATIO = 0.60
AIM_QUERY_RATE = 1000.0
AIM_QUERY_P99_MS = 20.0
PROVINCES = 63
UPPER_LEVEL = 700
SHARES = (0.6, 0.3, 0.1)  # submissions, reviews, withdrawals
VALID_SHARE = 0.7  # of reviews
CAMPAIGN_DAYS = 30  # the events' timestamps spread over this many days
SLOW_CALL_US = 10_000  # Redis calls at least this long are logged: half the queries' p99 aim
SAMPLE_EVERY = 997  # a prime: the verified sample meets every kind of event at every offset
COMMITTED_POLL_SECONDS = 0.1
# Queries in flight at most (and HTTP connections): beyond it the server is saturated, and
# queueing more in the client would only measure the client's queue (and cost it quadratic
# time in httpx's pool).
MAX_OUTSTANDING = 64
PROGRESS_STEP = 5000
TOP_ENTRIES = 18
PROFILED_CODE = ("services/", "shared/", "aiokafka", "redis/", "pydantic", "json")


# --- the hierarchy --------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One union unit: where it sits and what the registry says of it."""

    id: str
    level: UnionLevel
    parent: str
    path: tuple[str, ...]
    cluster: str
    members: int
    target: int = 0


def build_hierarchy(units: int) -> list[Unit]:
    """``units`` units in 4 levels, root first: 63 provinces, 700 upper-level, then grassroots."""
    grassroots_count = units - 1 - PROVINCES - UPPER_LEVEL
    root = Unit(ROOT, UnionLevel.NATIONAL, "", (ROOT,), "", 10_000_000)
    provinces = [
        Unit(f"tinh-{p:02d}", UnionLevel.PROVINCE, ROOT, (ROOT, f"tinh-{p:02d}"), f"cum-{p % 8}", 0)
        for p in range(1, PROVINCES + 1)
    ]
    uppers = []
    for u in range(UPPER_LEVEL):
        province = provinces[u % PROVINCES]
        unit_id = f"{province.id}-ct{u:03d}"
        cluster = f"cum-ct-{u % 40}"
        uppers.append(
            Unit(
                unit_id, UnionLevel.UPPER_LEVEL, province.id, (*province.path, unit_id), cluster, 0
            )
        )
    grassroots = []
    targets: Counter[str] = Counter()
    for g in range(grassroots_count):
        upper = uppers[g % UPPER_LEVEL]
        unit_id = f"cs{g:06d}"
        members = 20 + (g * 7919) % 480
        target = 2 + members // 100  # about what the generated submissions reach: pace varies
        grassroots.append(
            Unit(
                unit_id,
                UnionLevel.GRASSROOTS,
                upper.id,
                (*upper.path, unit_id),
                f"cum-cs-{g % 500}",
                members,
                target,
            )
        )
        for ancestor in upper.path:
            targets[ancestor] += target
    members_of = Counter[str]()
    for unit in grassroots:
        for ancestor in unit.path[:-1]:
            members_of[ancestor] += unit.members
    upper_levels = [
        Unit(u.id, u.level, u.parent, u.path, u.cluster, members_of[u.id], targets[u.id])
        for u in (root, *provinces, *uppers)
    ]
    return upper_levels + grassroots


# --- the events -----------------------------------------------------------------------------

# Sentinels in the template events: valid values that cannot occur in anything generated.
_EVENT_ID = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
_INITIATIVE_ID = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
_PROVINCE, _UPPER, _UNIT = "sentinel-province", "sentinel-upper", "sentinel-unit"
_AUTHOR, _OFFICIAL = "sentinel-author", "sentinel-official"
_OCCURRED = datetime(2001, 2, 3, 4, 5, 6, tzinfo=ICT)
_SUBMITTED = datetime(2002, 3, 4, 5, 6, 7, tzinfo=ICT)
_BENEFIT = 987_654_321
_PLACEHOLDERS = {
    _EVENT_ID: "event_id",
    _INITIATIVE_ID: "initiative_id",
    _PROVINCE: "province",
    _UPPER: "upper",
    _UNIT: "unit",
    _AUTHOR: "author",
    _OFFICIAL: "official",
    _OCCURRED.isoformat(): "occurred_at",
    _SUBMITTED.isoformat(): "submitted_at",
    str(_BENEFIT): "benefit",
}


def _templates() -> dict[str, str]:
    """One ``str.format`` template per kind of event, from an event encoded by the real models."""
    envelope: dict[str, Any] = {
        "event_id": UUID(_EVENT_ID),
        "occurred_at": _OCCURRED,
        "campaign_id": CAMPAIGN,
        "union_id": _UNIT,
        "union_path": [ROOT, _PROVINCE, _UPPER, _UNIT],
    }
    initiative = UUID(_INITIATIVE_ID)
    events: dict[str, InitiativeEvent] = {
        "submitted": InitiativeSubmitted(
            **envelope,
            data=InitiativeSubmittedData(
                initiative_id=initiative,
                title="Cải tiến quy trình tiếp nhận hồ sơ một cửa",
                field="Cải cách hành chính",
                authors=[
                    AuthorRef(person_key=_AUTHOR, category=AuthorCategory.PUBLIC_SERVICE_STAFF),
                    AuthorRef(person_key=_OFFICIAL, category=AuthorCategory.UNION_OFFICIAL),
                ],
                estimated_benefit_vnd=_BENEFIT,
                application_date=date(2025, 3, 1),
                recognised_by=RecognisedBy.INITIATIVE_COUNCIL,
                recognised_on=date(2025, 4, 20),
                entered_by="ho-tro-03",
            ),
        ),
        "withdrawn": InitiativeWithdrawn(
            **envelope,
            data=InitiativeWithdrawnData(
                initiative_id=initiative, withdrawn_by="ho-tro-03", submitted_at=_SUBMITTED
            ),
        ),
    }
    for decision in ReviewDecision:
        events[decision.value] = InitiativeReviewed(
            **envelope,
            data=InitiativeReviewedData(
                initiative_id=initiative,
                decision=decision,
                reviewer_id="tham-dinh-01",
                submitted_at=_SUBMITTED,
            ),
        )
    templates = {}
    for kind, event in events.items():
        # Braces of the JSON itself are doubled first, so only the placeholders are fields.
        text = encode(event).decode().replace("{", "{{").replace("}", "}}")
        for sentinel, name in _PLACEHOLDERS.items():
            text = text.replace(sentinel, "{" + name + "}")
        if "sentinel" in text or _EVENT_ID[:8] in text:
            raise RuntimeError(f"template {kind}: a sentinel was not replaced")
        templates[kind] = text
    return templates


@dataclass
class Expected:
    """What the root's counters must read once every event is applied."""

    submissions: int = 0
    valid: int = 0
    rejected: int = 0
    withdrawn: int = 0
    people: int = 0
    benefit_vnd: int = 0

    def root(self) -> dict[str, int]:
        """The root unit's counters these events imply."""
        return {
            "registered": self.submissions - self.withdrawn,
            "under_review": self.submissions - self.valid - self.rejected - self.withdrawn,
            "valid": self.valid,
            "rejected": self.rejected,
            "withdrawn": self.withdrawn,
            "benefit_vnd": self.benefit_vnd,
            "people": self.people,
        }


@dataclass
class Generated:
    """The encoded records, in publishing order, and what applying them must produce."""

    records: list[tuple[bytes, bytes]]
    kinds: Counter[str]
    expected: Expected


def generate(units: list[Unit], count: int, seed: int) -> Generated:
    """``count`` events by filling the templates: submissions, then reviews and withdrawals of
    submissions still waiting, each keyed by its grassroots unit."""
    templates = _templates()
    grassroots = [unit for unit in units if unit.level == UnionLevel.GRASSROOTS]
    rng = random.Random(seed)
    step = CAMPAIGN_DAYS * 86_400 / count
    start = datetime(2025, 5, 1, 8, 0, tzinfo=ICT)
    records: list[tuple[bytes, bytes]] = []
    kinds: Counter[str] = Counter()
    # Waiting submissions: (initiative number, grassroots index, submitted_at, benefit).
    waiting: list[tuple[int, int, str, int]] = []
    withdrawn_numbers: set[int] = set()
    submitted: list[tuple[int, int]] = []  # (grassroots index, benefit), by initiative number
    for n in range(count):
        occurred_at = (start + timedelta(seconds=int(n * step))).isoformat()
        draw = rng.random()
        if draw < SHARES[0] or not waiting:
            number = len(submitted)
            g = rng.randrange(len(grassroots))
            benefit = 10_000_000 + rng.randrange(500) * 1_000_000
            submitted.append((g, benefit))
            waiting.append((number, g, occurred_at, benefit))
            kind, author, official = "submitted", f"p{number:07x}", f"cb-{grassroots[g].id}"
        else:
            # Swap-remove a random waiting submission: each is followed up at most once.
            pick = rng.randrange(len(waiting))
            waiting[pick], waiting[-1] = waiting[-1], waiting[pick]
            number, g, submitted_at, benefit = waiting.pop()
            if draw < SHARES[0] + SHARES[1]:
                kind = "valid" if rng.random() < VALID_SHARE else "rejected"
            else:
                kind = "withdrawn"
                withdrawn_numbers.add(number)
            author = official = ""
        unit = grassroots[g]
        value = templates[kind].format(
            event_id=f"00000000-0000-4000-8000-{n:012x}",
            initiative_id=f"5b0e3c1e-0000-4000-9000-{number:012x}",
            province=unit.path[1],
            upper=unit.path[2],
            unit=unit.id,
            author=author,
            official=official,
            occurred_at=occurred_at,
            submitted_at=submitted_at if kind != "submitted" else "",
            benefit=benefit,
        )
        records.append((unit.id.encode(), value.encode()))
        kinds[kind] += 1
    live = [submitted[n] for n in range(len(submitted)) if n not in withdrawn_numbers]
    expected = Expected(
        submissions=kinds["submitted"],
        valid=kinds["valid"],
        rejected=kinds["rejected"],
        withdrawn=kinds["withdrawn"],
        # Each live submission has its own author; each unit with one adds its union official.
        people=len(live) + len({g for g, _ in live}),
        benefit_vnd=sum(benefit for _, benefit in live),
    )
    return Generated(records, kinds, expected)


def verify_sample(records: list[tuple[bytes, bytes]]) -> int:
    """Decode every SAMPLE_EVERY-th record: it must re-encode to the same bytes and key."""
    checked = 0
    for key, value in records[::SAMPLE_EVERY]:
        event = decode(value)
        if encode(event) != value or partition_key(event) != key:
            raise RuntimeError(f"generated record does not round-trip: {value[:200]!r}")
        checked += 1
    return checked


# --- Redis: reset, registry, checks ---------------------------------------------------------


async def reset_redis(redis: Redis, units: list[Unit]) -> None:
    """FLUSHDB, then write the registry as the registry reader would leave it; reset stats."""
    await redis.flushdb()
    # Straight into Redis, in the registry reader's layout (adapters/registry.py): reading
    # 300,000 records through it, one round trip and a re-ranking each, would take minutes.
    definition = CampaignDefinedData(
        name="Một triệu sáng kiến 2025",
        starts_on=date(2025, 3, 1),
        ends_on=date(2025, 12, 31),
        eligible_from=date(2024, 1, 1),
        eligible_to=date(2025, 12, 31),
    )
    pipe = redis.pipeline(transaction=False)
    pipe.hset(
        RegistryKeys.campaign(CAMPAIGN),
        mapping={"definition": definition.model_dump_json(), "organiser_id": ROOT},
    )
    pipe.sadd(RegistryKeys.campaigns(), CAMPAIGN)
    for n, unit in enumerate(units, 1):
        pipe.hset(
            RegistryKeys.unit(unit.id),
            mapping={
                "name": f"Công đoàn {unit.id}",
                "level": unit.level.value,
                "parent_id": unit.parent,
                "sector": "",
                "emulation_cluster": unit.cluster,
                "members": unit.members,
                "path": "/".join(unit.path),
            },
        )
        pipe.hset(
            RegistryKeys.facts(),
            unit.id,
            encode_facts(unit.parent, unit.cluster, unit.level.value, unit.members),
        )
        if unit.parent:
            pipe.sadd(RegistryKeys.children(unit.parent), unit.id)
        pipe.hset(RegistryKeys.target(CAMPAIGN, unit.id), mapping={"assigned_target": unit.target})
        pipe.hset(CounterKeys(CAMPAIGN).targets, unit.id, unit.target)
        if n % 5000 == 0:
            await pipe.execute()
    await pipe.execute()
    await redis.config_resetstat()
    await redis.slowlog_reset()


async def check_root(redis: Redis, expected: Expected) -> dict[str, Any]:
    """The root's counters against what the events imply."""
    counters = await read_unit(redis, CAMPAIGN, ROOT)
    got = {name: getattr(counters, name) for name in COUNTER_FIELDS}
    want = expected.root()
    return {
        "ok": got == want,
        # What a million initiatives cost in Redis (registry copy and rankings included).
        "redis_used_memory_bytes": (await redis.info("memory"))["used_memory"],
        # The check: every submission is either registered or withdrawn at the root.
        "registered_plus_withdrawn": got["registered"] + got["withdrawn"],
        "submissions": expected.submissions,
        "got": got,
        "want": want,
    }


async def redis_commands(redis: Redis) -> dict[str, dict[str, int]]:
    """Calls and Redis's own microseconds per command since the last CONFIG RESETSTAT."""
    stats = await redis.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): {"calls": int(value["calls"]), "usec": int(value["usec"])}
        for name, value in stats.items()
        if isinstance(value, dict) and "usec" in value
    }


async def slow_scripts(redis: Redis) -> list[float]:
    """Milliseconds of each script call in the slow log (at least SLOW_CALL_US) since the reset:
    while a script runs, Redis answers nobody, queries included."""
    durations = []
    for entry in await redis.slowlog_get(100_000):
        command = entry["command"]
        # redis-py leaves the command as bytes even on a decoding client.
        name = command[:4].decode() if isinstance(command, bytes) else command[:4]
        if name.upper() == "EVAL":
            durations.append(entry["duration"] / 1000)
    return durations


# --- CPU accounting -------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc; None when unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Meter:
    """CPU seconds of every process taking part, read before and after a run."""

    redis: Redis
    pids: dict[str, int | None]

    async def read(self) -> dict[str, float | None]:
        """CPU seconds so far of this process, Redis, and each known process."""
        info = await self.redis.info("cpu")
        values: dict[str, float | None] = {
            "bench process": time.process_time(),
            "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        }
        for name, pid in self.pids.items():
            values[name] = process_cpu(pid)
        return values

    @staticmethod
    def spent(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, Any]:
        """CPU seconds each process spent between two readings."""
        spent: dict[str, Any] = {}
        for name, value in after.items():
            start = before.get(name)
            spent[name] = None if start is None or value is None else value - start
        return spent


# --- the query load (another process) -------------------------------------------------------


@dataclass
class QueryStats:
    """What the query load saw during one candidate run."""

    latencies_ms: list[float]
    sent: int
    shed: int
    completed: int
    seconds: float
    errors: dict[str, int]
    client_cpu: float | None = None

    @property
    def rate(self) -> float:
        """Queries answered successfully per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def _query_load_process(
    mode: str,
    target: str,
    units: list[str],
    rate: float,
    ready: Any,
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    """Entry point of the query process: warm up, say ready, query from go to stop, report."""
    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None)
    with runner:
        results.put(runner.run(_query_load(mode, target, units, rate, ready, go, stop)))


async def _query_load(
    mode: str, target: str, units: list[str], rate: float, ready: Any, go: Any, stop: Any
) -> dict[str, Any]:
    """Open-loop load: a query is started every 1/rate s whether earlier ones answered or not,
    unless MAX_OUTSTANDING are still waiting: then it is shed (counted, not sent)."""
    rng = random.Random(11)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    query: Callable[[str], Awaitable[bool]]
    redis = create_redis(target) if mode == "read_unit" else None
    raw = KeepAliveClient(target) if mode == "http" else None
    client = (
        httpx.AsyncClient(
            base_url=target,
            timeout=30.0,
            limits=httpx.Limits(
                max_connections=MAX_OUTSTANDING, max_keepalive_connections=MAX_OUTSTANDING
            ),
        )
        if mode == "httpx"
        else None
    )

    async def httpx_query(unit: str) -> bool:
        assert client is not None
        response = await client.get(f"/campaigns/{CAMPAIGN}/units/{unit}/progress")
        if response.status_code != 200:
            errors[f"HTTP {response.status_code}"] += 1
            return False
        return True

    async def http_query(unit: str) -> bool:
        assert raw is not None
        status = await raw.get(f"/campaigns/{CAMPAIGN}/units/{unit}/progress")
        if status != 200:
            errors[f"HTTP {status}"] += 1
            return False
        return True

    async def redis_query(unit: str) -> bool:
        assert redis is not None
        await read_unit(redis, CAMPAIGN, unit)
        return True

    query = {"http": http_query, "httpx": httpx_query, "read_unit": redis_query}[mode]

    async def one(unit: str) -> None:
        started = time.perf_counter()
        try:
            ok = await query(unit)
        except Exception as error:  # counted, not raised: the load goes on
            errors[type(error).__name__] += 1
            return
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)

    try:
        for _ in range(20):  # connections open and the app warm before the clock
            await one(rng.choice(units))
        latencies.clear()
        errors.clear()
        ready.set()
        await asyncio.to_thread(go.wait)
        started = time.perf_counter()
        sent = shed = 0
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            due = int((time.perf_counter() - started) * rate)
            while sent + shed < due:
                if len(tasks) >= MAX_OUTSTANDING:
                    shed += 1
                    continue
                task = asyncio.create_task(one(rng.choice(units)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.001)
        seconds = time.perf_counter() - started
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        return {
            "latencies_ms": latencies,
            "sent": sent,
            "shed": shed,
            "completed": len(latencies),
            "seconds": seconds,
            "errors": dict(errors),
        }
    finally:
        if client is not None:
            await client.aclose()
        if raw is not None:
            raw.close()
        if redis is not None:
            await redis.aclose()


class KeepAliveClient:
    """GET over persistent HTTP/1.1 connections, one request at a time on each: a few dozen
    microseconds of CPU a request, where httpx.AsyncClient takes milliseconds here (its pool's
    bookkeeping grows with the requests in flight), CPU the server needs on a 2-CPU machine."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.host, self.port = host, int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open: list[asyncio.StreamWriter] = []

    async def get(self, path: str) -> int:
        """The status of ``GET path``, its body read and dropped."""
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.open.append(writer)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        """Close every connection."""
        for writer in self.open:
            writer.close()


class QueryLoad:
    """The query process for one candidate run: started and warmed before, stopped after."""

    def __init__(self, mode: str, target: str, units: list[str], rate: float) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process holds GBs
        self.ready, self.go, self.stop = context.Event(), context.Event(), context.Event()
        self.results = context.Queue()
        self.process = context.Process(
            target=_query_load_process,
            args=(mode, target, units, rate, self.ready, self.go, self.stop, self.results),
            daemon=True,
        )
        self.cpu_before: float | None = None

    async def start(self) -> None:
        """Start the process and wait until it is warm."""
        self.process.start()
        if not await asyncio.to_thread(self.ready.wait, 120):
            raise RuntimeError("the query process did not get ready in 120 s")

    def begin(self) -> None:
        """Start querying (the ingest starts now too)."""
        self.cpu_before = process_cpu(self.process.pid)
        self.go.set()

    async def finish(self) -> QueryStats:
        """Stop querying; collect what it saw."""
        self.stop.set()
        cpu_after = process_cpu(self.process.pid)
        found = await asyncio.to_thread(self.results.get, True, 120)
        await asyncio.to_thread(self.process.join, 30)
        cpu = None if self.cpu_before is None or cpu_after is None else cpu_after - self.cpu_before
        return QueryStats(**found, client_cpu=cpu)

    def kill(self) -> None:
        """Make sure the process is gone (after an error)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --- the runs -------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured run of one side."""

    side: str
    round: int
    events: int
    seconds: float
    cpu: dict[str, float | None]
    redis: dict[str, dict[str, int]] = field(default_factory=dict)
    slow_scripts_ms: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    queries: QueryStats | None = None
    check: dict[str, Any] | None = None

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds


@dataclass
class Context:
    """Everything the runs share."""

    args: argparse.Namespace
    console: Console
    bootstrap: str
    redis_url: str
    topic: str
    dead_letter: str
    run_id: str
    units: list[Unit]
    generated: Generated
    ends: dict[int, int]  # partition → end offset
    batches: list[tuple[int, list[tuple[int, InitiativeEvent]]]]
    redis: Redis
    meter: Meter
    query_target: tuple[str, str] | None  # (mode, url)
    sides: tuple[str, ...]

    def settings(self, group: str) -> ScoringSettings:
        """Scoring settings pointing at this run's broker, Redis and topics."""
        return ScoringSettings(
            kafka_bootstrap_servers=self.bootstrap,
            redis_url=self.redis_url,
            topic_initiative_events=self.topic,
            topic_dead_letter=self.dead_letter,
            initiative_events_partitions=self.args.partitions,
            scoring_consumer_group=group,
            scoring_poll_records=self.args.batch,
            scoring_step_events=self.args.step,
        )


def _progress(console: Console) -> Progress:
    """A transient bar: watching only; the line printed after each run is the record."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # Piped into a log, a bar would only leave blank lines.
    return Progress(
        *columns,
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


async def run_kafka_only(ctx: Context, round_: int) -> Run:
    """K: read the whole topic in a fresh group and decode every record; apply nothing."""
    settings = ctx.settings(f"bench.scoring.{ctx.run_id}.k.{round_}")
    consumer = create_consumer(
        settings,
        ctx.topic,
        group_id=settings.scoring_consumer_group,
        max_poll_records=ctx.args.batch,
    )
    remaining = {p for p, end in ctx.ends.items() if end > 0}
    read = 0
    with _progress(ctx.console) as progress:
        task = progress.add_task(f"K round {round_}", total=ctx.args.events)
        before = await ctx.meter.read()
        started = time.perf_counter()
        await consumer.start()
        try:
            while remaining:
                batches = await consumer.getmany(timeout_ms=500, max_records=ctx.args.batch)
                for tp, records in batches.items():
                    for record in records:
                        decode(record.value or b"")
                    read += len(records)
                    if records[-1].offset + 1 >= ctx.ends[tp.partition]:
                        remaining.discard(tp.partition)
                progress.update(task, completed=read)
            seconds = time.perf_counter() - started
            cpu = Meter.spent(before, await ctx.meter.read())
        finally:
            await consumer.stop()
    if read != ctx.args.events:
        raise RuntimeError(f"K read {read:,} records, published {ctx.args.events:,}")
    return Run("K", round_, read, seconds, cpu)


async def run_redis_only(ctx: Context, round_: int) -> Run:
    """R: the events' Lua steps, prepared beforehand (decoded, compacted, JSON), run batch by
    batch into an empty Redis: Redis's own limit, none of this process's work in the way."""
    await reset_redis(ctx.redis, ctx.units)
    redis = create_redis(ctx.redis_url)
    settings = ctx.settings("unused")
    store = CounterStore(
        redis, timezone=settings.timezone, step_events=settings.scoring_step_events
    )
    prepared = [
        (len(batch), await store.prepare(ctx.topic, {partition: batch}))
        for partition, batch in ctx.batches
    ]
    # The consumer's ranking refresher runs beside its steps: R does the same Redis work.
    refresher = RankingRefresher(
        redis,
        Rankings(redis, store.directory),
        interval=settings.scoring_rank_interval_seconds,
    )
    try:
        with _progress(ctx.console) as progress:
            task = progress.add_task(f"R round {round_}", total=ctx.args.events)
            done = 0
            before = await ctx.meter.read()
            started = time.perf_counter()
            refreshing = asyncio.create_task(refresher.run())
            for size, steps in prepared:
                await store.execute(steps)
                done += size
                progress.update(task, completed=done)
            seconds = time.perf_counter() - started
            refreshing.cancel()
            await asyncio.gather(refreshing, return_exceptions=True)
            cpu = Meter.spent(before, await ctx.meter.read())
        commands = await redis_commands(ctx.redis)
        slow = await slow_scripts(ctx.redis)
        check = await check_root(ctx.redis, ctx.generated.expected)
    finally:
        await redis.aclose()
    sizes = [len(batch) for _, batch in ctx.batches]
    return Run("R", round_, done, seconds, cpu, commands, slow, sizes, check=check)


async def _coordinator_ready(bootstrap: str, timeout: float = 60.0) -> None:
    """Wait until the broker has a group coordinator: the first group on a fresh broker
    creates __consumer_offsets, seconds that would otherwise land in the first run."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                await admin.list_consumer_group_offsets("bench.scoring.coordinator-check")
                return
            except Exception:  # not available yet: any error of the lookup means wait
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def _committed(admin: AIOKafkaAdminClient, group: str) -> dict[int, int]:
    """The group's committed offset of each partition (missing: nothing committed yet)."""
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def replay(
    ctx: Context, label: str, group: str, *, stop_after: int | None = None
) -> tuple[float, int, list[int]]:
    """Run the real ScoringConsumer in ``group`` until every partition's committed offset is at
    its end (or ``stop_after`` events are committed); return seconds, events and batch sizes."""
    redis = create_redis(ctx.redis_url)
    scoring = ScoringConsumer(ctx.settings(group), redis)
    sizes: list[int] = []
    apply = scoring.apply

    async def counting_apply(poll: Any) -> None:
        # Wraps the instance's method only to see the batch sizes Kafka hands it.
        sizes.append(sum(len(records) for records in poll.batches.values()))
        await apply(poll)

    scoring.apply = counting_apply  # type: ignore[method-assign]
    goal = stop_after or ctx.args.events
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap)
    await admin.start()
    try:
        with _progress(ctx.console) as progress:
            task = progress.add_task(label, total=goal)
            started = time.perf_counter()
            running = asyncio.create_task(scoring.run())
            while True:
                await asyncio.sleep(COMMITTED_POLL_SECONDS)
                if running.done():
                    running.result()  # raises what stopped it
                    raise RuntimeError("the scoring consumer stopped by itself")
                committed = await _committed(admin, group)
                done = sum(committed.values())
                progress.update(task, completed=min(done, goal))
                if stop_after is not None and done >= stop_after:
                    break
                if all(committed.get(p, 0) >= end for p, end in ctx.ends.items()):
                    break
            seconds = time.perf_counter() - started
            await scoring.stop()
            await running
    finally:
        await admin.close()
        await redis.aclose()
    return seconds, done, sizes


async def run_candidate(ctx: Context, round_: int, *, queries: bool) -> Run:
    """C or CQ: the real consumer from an empty Redis, alone or with the query load."""
    side = "CQ" if queries else "C"
    await reset_redis(ctx.redis, ctx.units)
    load = None
    if queries:
        assert ctx.query_target is not None
        mode, target = ctx.query_target
        load = QueryLoad(mode, target, [unit.id for unit in ctx.units], ctx.args.query_rate)
    try:
        if load is not None:
            await load.start()
            load.begin()
        before = await ctx.meter.read()
        seconds, events, sizes = await replay(
            ctx, f"{side} round {round_}", f"bench.scoring.{ctx.run_id}.{side}.{round_}"
        )
        cpu = Meter.spent(before, await ctx.meter.read())
        stats = await load.finish() if load is not None else None
        if stats is not None:
            cpu["query client"] = stats.client_cpu
    finally:
        if load is not None:
            load.kill()
    commands = await redis_commands(ctx.redis)
    slow = await slow_scripts(ctx.redis)
    check = await check_root(ctx.redis, ctx.generated.expected)
    return Run(side, round_, events, seconds, cpu, commands, slow, sizes, stats, check)


def rotation(rounds: int, sides: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """(round, side): every side in each round, the first one rotating, so that a slow drift
    (a broker filling its page cache, a warming CPU) favours no side."""
    for round_ in range(1, rounds + 1):
        shift = (round_ - 1) % len(sides)
        for side in sides[shift:] + sides[:shift]:
            yield round_, side


async def measure(ctx: Context) -> list[Run]:
    """All the interleaved rounds; a line after each run."""
    runners: dict[str, Callable[[Context, int], Coroutine[Any, Any, Run]]] = {
        "K": run_kafka_only,
        "R": run_redis_only,
        "C": functools.partial(run_candidate, queries=False),
        "CQ": functools.partial(run_candidate, queries=True),
    }
    runs = []
    for round_, side in rotation(ctx.args.rounds, ctx.sides):
        run = await runners[side](ctx, round_)
        runs.append(run)
        line = f"{side} round {round_}: {run.events:,} events in {run.seconds:.2f} s"
        line += f" = {run.rate:,.0f}/s"
        if run.batch_sizes:
            line += f", batches median {statistics.median(run.batch_sizes):,.0f}"
        if run.queries is not None:
            q = run.queries
            line += (
                f"; queries {q.rate:,.0f}/s p50 {percentile(q.latencies_ms, 0.5):.1f} ms "
                f"p99 {percentile(q.latencies_ms, 0.99):.1f} ms, shed {q.shed:,}"
            )
            if q.errors:
                line += f", errors {sum(q.errors.values()):,}"
        if run.check is not None:
            line += "; root ok" if run.check["ok"] else "; [red]ROOT MISMATCH[/red]"
        ctx.console.print(line)
    return runs


# --- the profile ----------------------------------------------------------------------------


async def profile(ctx: Context) -> dict[str, Any]:
    """A replay of --profile-events events by the real consumer under cProfile, no queries."""
    await reset_redis(ctx.redis, ctx.units)
    count = min(ctx.args.profile_events, ctx.args.events)
    profiler = cProfile.Profile()
    before = await ctx.meter.read()
    profiler.enable()
    seconds, events, sizes = await replay(
        ctx, "profiled replay", f"bench.scoring.{ctx.run_id}.profile", stop_after=count
    )
    profiler.disable()
    cpu = Meter.spent(before, await ctx.meter.read())
    commands = await redis_commands(ctx.redis)
    stats = pstats.Stats(profiler)
    return {
        "events": events,
        "seconds_under_profiler": seconds,
        "batches": len(sizes),
        "cpu_seconds": cpu,
        "redis_usec_per_event": {name: c["usec"] / events for name, c in commands.items()},
        "top_cumulative": _top_entries(stats, seconds, "cumulative"),
        "top_self": _top_entries(stats, seconds, "self"),
        "self_by_package": _self_by_package(stats),
    }


def _where(key: tuple[str, int, str]) -> str:
    """``file:line(function)``, the file relative to the repository or site-packages."""
    filename, line, function = key
    root = f"{Path(__file__).resolve().parents[1]}/"
    for marker in ("/site-packages/", root, "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({function})" if line else function


def _top_entries(stats: pstats.Stats, seconds: float, by: str) -> list[dict[str, Any]]:
    """The largest cumulative times of the project's and its libraries' functions, or the
    largest self times of all."""
    rows = []
    for key, (_, calls, self_s, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if by == "cumulative" and not any(part in key[0] for part in PROFILED_CODE):
            continue
        rows.append((key, calls, self_s, cumulative))
    rows.sort(key=lambda row: row[3] if by == "cumulative" else row[2], reverse=True)
    return [
        {
            "function": _where(key),
            "calls": calls,
            "self_s": self_s,
            "cumulative_s": cumulative,
            "share_of_wall": (cumulative if by == "cumulative" else self_s) / seconds,
        }
        for key, calls, self_s, cumulative in rows[:TOP_ENTRIES]
    ]


def _package(filename: str, function: str) -> str:
    """Which part of the stack a function belongs to."""
    for marker, name in (
        ("/services/", "project: services"),
        ("/shared/", "project: shared"),
        ("pydantic", "pydantic"),
        ("aiokafka", "aiokafka"),
        ("/redis/", "redis-py"),
        ("json", "json"),
        ("structlog", "structlog"),
        ("prometheus_client", "prometheus_client"),
        ("asyncio", "asyncio"),
        ("uvloop", "uvloop"),
        ("rich", "rich (the progress bar)"),
    ):
        if marker in filename or marker in function:
            return name
    return "builtins and other" if filename == "~" else "other"


def _self_by_package(stats: pstats.Stats) -> dict[str, float]:
    """Self time summed by package, largest first."""
    totals: Counter[str] = Counter()
    for key, (_, _, self_s, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        totals[_package(key[0], key[2])] += self_s
    return dict(totals.most_common())


def print_profile(console: Console, found: dict[str, Any]) -> None:
    """The profile's tables."""
    seconds, events = found["seconds_under_profiler"], found["events"]
    console.print(
        f"\n[bold]Where the time goes: the consumer under cProfile, {events:,} events in "
        f"{seconds:.1f} s ({found['batches']} batches, no queries)[/bold]"
    )
    cpu = found["cpu_seconds"]
    console.print(
        "CPU seconds during it: "
        + ", ".join(f"{name} {value:.1f}" for name, value in cpu.items() if value is not None)
    )
    per_event = found["redis_usec_per_event"]
    console.print(
        "Redis's own time per event: "
        + ", ".join(
            f"{name} {value:.1f} µs"
            for name, value in sorted(per_event.items(), key=lambda kv: -kv[1])[:6]
        )
    )
    for title, rows, column in (
        ("top cumulative (project, aiokafka, redis-py, pydantic, json)", found["top_cumulative"],
         "cumulative_s"),
        ("top self time (everything)", found["top_self"], "self_s"),
    ):  # fmt: skip
        table = Table(
            title=f"cProfile: {title}",
            caption="the event-loop thread only; a coroutine's time excludes its waits",
        )
        table.add_column("s", justify="right")
        table.add_column("% wall", justify="right")
        table.add_column("µs/event", justify="right")
        table.add_column("calls", justify="right")
        table.add_column("function")
        for row in rows:
            table.add_row(
                f"{row[column]:.2f}",
                f"{row['share_of_wall']:.0%}",
                f"{row[column] / events * 1e6:.1f}",
                f"{row['calls']:,}",
                row["function"],
            )
        console.print(table)
    console.print(
        "self time by package: "
        + ", ".join(
            f"{name} {value:.1f} s ({value / seconds:.0%})"
            for name, value in found["self_by_package"].items()
            if value >= 0.01 * seconds
        )
    )


# --- the report -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN of nothing)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(runs: list[Run], events: int) -> dict[str, Any]:
    """Medians per side, the ratios, the queries pooled over the CQ runs, the aims."""
    sides: dict[str, Any] = {}
    for side in SIDES:
        mine = [run for run in runs if run.side == side]
        if mine:
            sides[side] = {
                "rates": [run.rate for run in mine],
                "seconds": [run.seconds for run in mine],
                "rate_median": statistics.median(run.rate for run in mine),
                "seconds_median": statistics.median(run.seconds for run in mine),
            }
    slower = min(sides["K"]["rate_median"], sides["R"]["rate_median"])
    queries = [run.queries for run in runs if run.queries is not None]
    latencies = [ms for q in queries for ms in q.latencies_ms]
    query = (
        {
            "rate_median": statistics.median(q.rate for q in queries),
            "rates": [q.rate for q in queries],
            "sent": sum(q.sent for q in queries),
            "shed": sum(q.shed for q in queries),
            "answered": len(latencies),
            "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies, default=math.nan),
            "p99_ms_per_run": [percentile(q.latencies_ms, 0.99) for q in queries],
            "errors": dict(sum((Counter(q.errors) for q in queries), Counter())),
        }
        if queries
        else None
    )
    aims: dict[str, Any] = {"million_seconds_measured": events == 1_000_000}
    for side in CANDIDATES:
        if side not in sides:
            continue
        # The aim is for a million events: a smaller run is judged on the time at its rate.
        million = 1_000_000 / sides[side]["rate_median"]
        ratio = sides[side]["rate_median"] / slower
        sides[side]["ratio"] = ratio
        aims[side] = {
            "million_seconds": million,
            "million_met": million < AIM_SECONDS_PER_MILLION,
            "ratio": ratio,
            "ratio_met": ratio >= AIM_RATIO,
        }
    if query is not None:
        aims["queries_met"] = (
            query["rate_median"] >= 0.99 * AIM_QUERY_RATE
            and query["p99_ms"] < AIM_QUERY_P99_MS
            and not query["errors"]
        )
    return {"sides": sides, "slower_baseline": slower, "queries": query, "aims": aims}


def _verdict(met: bool) -> str:
    return "[green]met[/green]" if met else "[red]NOT met[/red]"


def _median_of(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def print_report(
    console: Console,
    ctx: Context,
    runs: list[Run],
    summary: dict[str, Any],
    informational: dict[str, float],
) -> None:
    """The throughput table, the CPU table, Redis's time, the queries and the aims."""
    args = ctx.args
    sides = summary["sides"]
    table = Table(
        title=f"Scoring replay: {args.events:,} events, {len(ctx.units):,} units, "
        f"{args.partitions} partitions",
        caption=f"median of {args.rounds} interleaved rounds each; ratio = candidate / slower "
        "baseline",
    )
    table.add_column("side")
    table.add_column("events/s", justify="right")
    table.add_column("total s", justify="right")
    table.add_column("rounds events/s", justify="right")
    table.add_column("ratio\n/ min(K,R)", justify="right", style="bold")
    for side, s in sides.items():
        table.add_row(
            SIDE_NAMES[side],
            f"{s['rate_median']:,.0f}",
            f"{s['seconds_median']:.1f}",
            " ".join(f"{rate:,.0f}" for rate in s["rates"]),
            f"{s['ratio']:.2f}×" if "ratio" in s else "",
        )
    for name, rate in informational.items():
        table.add_row(f"[dim]{name}[/dim]", f"[dim]{rate:,.0f}[/dim]", "", "", "")
    console.print(table)

    cpu = Table(
        title="Where the CPU went: seconds per run (median), and µs per event",
        caption=f"{os.cpu_count()} CPUs; busy = all CPU seconds / wall seconds",
    )
    cpu.add_column("side")
    names = sorted({name for run in runs for name in run.cpu}, key=_cpu_order)
    for name in ("wall", *names, "busy"):
        cpu.add_column(name, justify="right")
    for side in sides:
        mine = [run for run in runs if run.side == side]
        wall = statistics.median(run.seconds for run in mine)
        values = [_median_of([run.cpu.get(name) for run in mine]) for name in names]
        busy = sum(v for v in values if v is not None) / wall
        events = mine[0].events
        cells = ["–" if v is None else f"{v:.1f} ({v / events * 1e6:.0f})" for v in values]
        cpu.add_row(side, f"{wall:.1f} ({wall / events * 1e6:.0f})", *cells, f"{busy:.2f}")
    console.print(cpu)

    for side in ("R", *CANDIDATES):
        mine = [run for run in runs if run.side == side]
        if not mine:
            continue
        usec: Counter[str] = Counter()
        calls: Counter[str] = Counter()
        for run in mine:
            usec.update({name: c["usec"] for name, c in run.redis.items()})
            calls.update({name: c["calls"] for name, c in run.redis.items()})
        events = sum(run.events for run in mine)
        scripts = calls.pop("evalsha", 0) + calls.pop("eval", 0)
        script_usec = usec.pop("evalsha", 0) + usec.pop("eval", 0)
        # A command a script runs is counted both in the script's time and in its own.
        parts = ", ".join(f"{name} {value / events:.1f}" for name, value in usec.most_common(5))
        slow = [ms for run in mine for ms in run.slow_scripts_ms]
        console.print(
            f"Redis, {side}: scripts {script_usec / events:.1f} µs per event, "
            f"{scripts / len(mine):,.0f} calls a run of {script_usec / max(scripts, 1) / 1000:.1f}"
            f" ms on average, {len(slow) / len(mine):,.0f} a run ≥ {SLOW_CALL_US / 1000:.0f} ms, "
            f"the longest {max(slow, default=0):.0f} ms (Redis answers nobody meanwhile); "
            f"commands inside or beside them, µs per event: {parts}"
        )
    for side in CANDIDATES:
        mine = [run for run in runs if run.side == side]
        sizes = [size for run in mine for size in run.batch_sizes]
        if sizes:
            console.print(
                f"{side}'s batches from Kafka: {len(sizes) / len(mine):,.0f} a run, median "
                f"{statistics.median(sizes):,.0f} records, mean {statistics.fmean(sizes):,.0f} "
                f"(R applies batches of {args.batch:,})"
            )
    query = summary["queries"]
    if query is not None:
        assert ctx.query_target is not None
        how = QUERY_VIA[ctx.query_target[0]]
        console.print(
            f"queries during CQ ({how}): {query['answered']:,} answered of {query['sent']:,} "
            f"sent ({query['shed']:,} shed: {MAX_OUTSTANDING} already waiting), "
            f"{query['rate_median']:,.0f}/s (median of runs), p50 {query['p50_ms']:.1f} ms, "
            f"p99 {query['p99_ms']:.1f} ms (per run: "
            + " ".join(f"{v:.1f}" for v in query["p99_ms_per_run"])
            + f"), max {query['max_ms']:.0f} ms"
            + (f", errors {query['errors']}" if query["errors"] else "")
        )
    aims = summary["aims"]
    scaled = "" if aims["million_seconds_measured"] else " at the measured rate"
    for side in CANDIDATES:
        if side in aims:
            a = aims[side]
            console.print(
                f"aims, {SIDE_NAMES[side]}: 1,000,000 events in < {AIM_SECONDS_PER_MILLION:.0f} "
                f"s: {a['million_seconds']:.1f} s{scaled} {_verdict(a['million_met'])}; "
                f"≥ {AIM_RATIO:.0%} of the slower baseline: {a['ratio']:.0%} "
                f"{_verdict(a['ratio_met'])}"
            )
    if query is not None:
        console.print(
            f"aim, queries: {AIM_QUERY_RATE:,.0f}/s with p99 < {AIM_QUERY_P99_MS:.0f} ms during "
            f"ingest: {query['rate_median']:,.0f}/s, p99 {query['p99_ms']:.1f} ms "
            f"{_verdict(aims['queries_met'])}"
        )
    checks = [run.check for run in runs if run.check is not None]
    bad = [check for check in checks if not check["ok"]]
    console.print(
        f"check: root registered + withdrawn = {checks[0]['registered_plus_withdrawn']:,}, "
        f"submissions {checks[0]['submissions']:,}; every root counter as the events imply "
        f"after {len(checks) - len(bad)} of {len(checks)} R, C and CQ runs"
        + ("" if not bad else " [red]MISMATCH[/red]")
    )
    info = machine()
    console.print(f"machine: {info['cpu_count']} CPUs, Python {info['python']}, {info['platform']}")


def _cpu_order(name: str) -> int:
    order = ["bench process", "redis", "kafka", "query server", "query client"]
    return order.index(name) if name in order else len(order)


def _service_changes() -> list[str]:
    """Uncommitted changes under services/ and shared/: the code measured is not the revision."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "--", "services", "shared"],
        cwd=RESULTS_DIR.parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.splitlines()


def write_results(
    ctx: Context,
    runs: list[Run],
    summary: dict[str, Any],
    informational: dict[str, float],
    profiled: dict[str, Any] | None,
    parameters: dict[str, Any],
) -> Path:
    """bench/results/scoring.json: every run, the medians, the aims, the profile."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / "scoring.json"
    document = {
        "benchmark": "scoring",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": parameters["git_at_start"],
        "machine": machine(),
        "parameters": parameters,
        "sides": SIDE_NAMES,
        "summary": summary,
        "informational_events_per_second": informational,
        "runs": [
            {
                "side": run.side,
                "round": run.round,
                "events": run.events,
                "seconds": run.seconds,
                "events_per_second": run.rate,
                "cpu_seconds": run.cpu,
                "redis_commands": run.redis,
                "script_calls_of_10_ms_or_more": {
                    "count": len(run.slow_scripts_ms),
                    "p50_ms": percentile(run.slow_scripts_ms, 0.5),
                    "p99_ms": percentile(run.slow_scripts_ms, 0.99),
                    "max_ms": max(run.slow_scripts_ms, default=None),
                },
                "batches": len(run.batch_sizes),
                "batch_size_median": statistics.median(run.batch_sizes)
                if run.batch_sizes
                else None,
                "queries": None
                if run.queries is None
                else {
                    "rate": run.queries.rate,
                    "sent": run.queries.sent,
                    "shed": run.queries.shed,
                    "answered": run.queries.completed,
                    "seconds": run.queries.seconds,
                    "p50_ms": percentile(run.queries.latencies_ms, 0.5),
                    "p99_ms": percentile(run.queries.latencies_ms, 0.99),
                    "errors": run.queries.errors,
                },
                "check": run.check,
            }
            for run in runs
        ],
        "profile": profiled,
    }
    path.write_text(json.dumps(_finite(document), indent=2, ensure_ascii=False) + "\n")
    return path


def _finite(value: Any) -> Any:
    """``value`` with NaN (a percentile of nothing) as null: NaN is not JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


# --- main -----------------------------------------------------------------------------------


async def publish(
    console: Console, settings: ScoringSettings, records: list[tuple[bytes, bytes]]
) -> tuple[float, list[tuple[int, int]]]:
    """Publish every record with the project's producer; (seconds, [(partition, offset)])."""
    producer = create_producer(settings)
    await producer.start()
    try:
        await producer.partitions_for(settings.topic_initiative_events)  # metadata first
        futures = []
        with _progress(console) as progress:
            task = progress.add_task("publishing", total=len(records))
            started = time.perf_counter()
            for sent, (key, value) in enumerate(records, 1):
                futures.append(
                    await producer.send(settings.topic_initiative_events, value, key=key)
                )
                if sent % PROGRESS_STEP == 0:
                    progress.update(task, completed=sent)
            placed = await asyncio.gather(*futures)
            await producer.flush()
            seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return seconds, [(meta.partition, meta.offset) for meta in placed]


def batches_of(
    events: list[AnyEvent], placed: list[tuple[int, int]], size: int
) -> list[tuple[int, list[tuple[int, InitiativeEvent]]]]:
    """Per-partition batches in offset order, taken from the partitions in turn."""
    by_partition: dict[int, list[tuple[int, InitiativeEvent]]] = {}
    for event, (partition, offset) in zip(events, placed, strict=True):
        by_partition.setdefault(partition, []).append((offset, event))  # type: ignore[arg-type]
    queues = []
    for partition in sorted(by_partition):
        records = sorted(by_partition[partition], key=lambda record: record[0])
        queues.append([(partition, records[i : i + size]) for i in range(0, len(records), size)])
    return [batch for turn in zip_longest_all(queues) for batch in turn]


def zip_longest_all(queues: list[list[Any]]) -> Iterator[list[Any]]:
    """The first item of every queue, then the second of those that have one, and so on."""
    for i in range(max((len(q) for q in queues), default=0)):
        yield [q[i] for q in queues if i < len(q)]


async def run_all(
    args: argparse.Namespace,
    console: Console,
    bootstrap: str,
    redis_url: str,
    query_target: tuple[str, str] | None,
    pids: dict[str, int | None],
    *,
    delete_topics: bool,
) -> tuple[Context, list[Run], dict[str, float], dict[str, Any] | None]:
    """Generate, publish, decode, run the rounds and maybe the profile."""
    run_id = uuid.uuid4().hex[:8]
    topic, dead_letter = f"bench.scoring.{run_id}", f"bench.scoring.{run_id}.dead-letter"
    settings = ScoringSettings(
        kafka_bootstrap_servers=bootstrap,
        redis_url=redis_url,
        topic_initiative_events=topic,
        topic_dead_letter=dead_letter,
        initiative_events_partitions=args.partitions,
    )
    wanted = (settings.topic_initiative_events, settings.topic_dead_letter)
    await ensure_topics(
        settings.kafka_servers,
        [spec for spec in topic_specs(settings) if spec.name in wanted],
        replication_factor=settings.kafka_replication_factor,
    )
    redis = create_redis(redis_url, socket_timeout=60)
    slowlog: dict[str, Any] = {}
    try:
        if await redis.dbsize():
            raise SystemExit(f"{redis_url} is not empty: this benchmark flushes it between runs")
        slowlog = await redis.config_get("slowlog-*")
        await redis.config_set("slowlog-log-slower-than", SLOW_CALL_US)
        await redis.config_set("slowlog-max-len", 100_000)
        # Millions of long-lived objects: without this every full collection during a run
        # would walk them all, a cost the service (which holds none of them) never pays.
        gc.disable()
        units = build_hierarchy(args.units)
        started = time.perf_counter()
        generated = generate(units, args.events, args.seed)
        made = time.perf_counter() - started
        checked = verify_sample(generated.records)
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in generated.kinds.most_common())
        console.print(
            f"generated {args.events:,} events over {len(units):,} units in {made:.1f} s "
            f"({kinds}); {checked:,} sampled decode and re-encode to the same bytes"
        )
        seconds, placed = await publish(console, settings, generated.records)
        informational = {"publish (create_producer, informational)": args.events / seconds}
        ends = Counter[int]()
        for partition, offset in placed:
            ends[partition] = max(ends[partition], offset + 1)
        console.print(
            f"published in {seconds:.1f} s = {args.events / seconds:,.0f}/s to {topic} "
            f"({len(ends)} of {args.partitions} partitions used)"
        )
        started = time.perf_counter()
        decoded = [decode(value) for _, value in generated.records]
        seconds = time.perf_counter() - started
        # Slower than K's decoding: every event is kept here (R needs them), so it allocates.
        informational["decode alone, all kept for R (informational)"] = args.events / seconds
        console.print(f"decoded all for R in {seconds:.1f} s = {args.events / seconds:,.0f}/s")
        batches = batches_of(decoded, placed, args.batch)
        del decoded
        gc.freeze()
        gc.enable()
        ctx = Context(
            args=args,
            console=console,
            bootstrap=bootstrap,
            redis_url=redis_url,
            topic=topic,
            dead_letter=dead_letter,
            run_id=run_id,
            units=units,
            generated=generated,
            ends={p: ends.get(p, 0) for p in range(args.partitions)},
            batches=batches,
            redis=redis,
            meter=Meter(redis, pids),
            query_target=query_target,
            sides=("K", "R")
            + (() if args.skip_alone and query_target else ("C",))
            + (("CQ",) if query_target else ()),
        )
        await _coordinator_ready(bootstrap)
        runs = await measure(ctx)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            tp = TopicPartition(dead_letter, 0)
            dead = (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()
        if dead:
            raise RuntimeError(f"{dead} records went to the dead-letter topic")
        summary = summarise(runs, args.events)
        profiled = None
        aims = summary["aims"]
        short = not all(
            aims[side]["million_met"] and aims[side]["ratio_met"]
            for side in CANDIDATES
            if side in aims
        )
        if args.profile == "always" or (args.profile == "auto" and short):
            profiled = await profile(ctx)
        await redis.flushdb()
        return ctx, runs, informational, profiled
    finally:
        for name, value in slowlog.items():  # a given Redis gets its own settings back
            await redis.config_set(name, value)
        await redis.aclose()
        if delete_topics:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.delete_topics([topic, dead_letter])
            finally:
                await admin.close()


def main(argv: list[str] | None = None) -> None:
    """Start Kafka, Redis and the query server, run everything, print, write, verify."""
    parser = argparse.ArgumentParser(
        prog="bench/scoring.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events (1000000)")
    parser.add_argument(
        "--units", type=int, default=150_000, help="units in the hierarchy (150000)"
    )
    parser.add_argument("--partitions", type=int, default=12, help="partitions of the topic (12)")
    parser.add_argument(
        "--quick", action="store_true", help="100,000 events over 20,000 units, to try things"
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (3)")
    parser.add_argument(
        "--batch",
        type=int,
        default=2000,
        help="records per batch: R's batch size and the consumer's poll (2000)",
    )
    parser.add_argument(
        "--step",
        type=int,
        default=ScoringSettings.model_fields["scoring_step_events"].default,
        help="most events in one Lua step, for R and C (the service's default, %(default)s)",
    )
    parser.add_argument(
        "--query-rate", type=float, default=1000.0, help="queries a second during C; 0: none (1000)"
    )
    parser.add_argument(
        "--query-via",
        choices=("http", "httpx", "read_unit"),
        default="http",
        help="the progress route over HTTP with a lean client or with httpx, or read_unit on "
        "Redis without HTTP (http)",
    )
    parser.add_argument(
        "--skip-alone",
        action="store_true",
        help="do not run C, the consumer without queries (only CQ)",
    )
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile the consumer: when it misses an aim, always, never (auto)",
    )
    parser.add_argument(
        "--profile-events", type=int, default=100_000, help="events of the profiled replay (100000)"
    )
    parser.add_argument("--seed", type=int, default=2025, help="seed of the event mix (2025)")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.units = 100_000, 20_000
    if args.units < 1 + PROVINCES + UPPER_LEVEL + 1:
        parser.error(f"--units must be more than {1 + PROVINCES + UPPER_LEVEL}")
    # Piped into a log, rich would wrap the tables at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=150)
    # The consumer's info lines would land between the progress bars; warnings still show.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    # Read before the run: others may edit the services while it runs; the code imported is this.
    changes, revision = _service_changes(), _git_revision()
    given_kafka = os.environ.get(env_name("kafka_bootstrap_servers"))
    given_redis = os.environ.get(env_name("redis_url"))
    servers: list[Any] = []
    pids: dict[str, int | None] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as workdir:
        try:
            if given_kafka:
                bootstrap = given_kafka
                console.print(f"broker: {bootstrap} (from {env_name('kafka_bootstrap_servers')})")
            else:
                from deploy.launcher import start_kafka

                kafka = start_kafka(workdir=Path(workdir) / "kafka", log=console.print)
                servers.append(kafka)
                bootstrap = kafka.bootstrap_servers
                pids["kafka"] = kafka.process.pid
            if given_redis:
                redis_url = given_redis
                console.print(f"redis: {redis_url} (from {env_name('redis_url')})")
            else:
                from deploy.launcher import start_redis

                redis_server = start_redis(
                    workdir=Path(workdir) / "redis", persistent=False, log=console.print
                )
                servers.append(redis_server)
                redis_url = redis_server.url
            query_target = None
            if args.query_rate > 0 and args.query_via != "read_unit":
                from deploy.launcher import start_service
                from deploy.launcher.process import free_port

                port = free_port()
                service = start_service(
                    "scoring",
                    port=port,
                    env={
                        **os.environ,
                        env_name("kafka_bootstrap_servers"): bootstrap,
                        env_name("redis_url"): redis_url,
                        env_name("scoring_consume"): "false",
                        env_name("scoring_port"): str(port),
                        env_name("log_level"): "WARNING",
                    },
                    log_dir=Path(workdir) / "logs",
                    log=console.print,
                )
                servers.append(service)
                pids["query server"] = service.process.pid
                query_target = (args.query_via, service.url)
            elif args.query_rate > 0:
                query_target = ("read_unit", redis_url)
            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None)
            with runner:
                ctx, runs, informational, profiled = runner.run(
                    run_all(
                        args,
                        console,
                        bootstrap,
                        redis_url,
                        query_target,
                        pids,
                        delete_topics=bool(given_kafka),
                    )
                )
        finally:
            for server in reversed(servers):
                server.stop()

    if profiled is not None:
        print_profile(console, profiled)
    # The figures last, where a reader looks first.
    summary = summarise(runs, args.events)
    print_report(console, ctx, runs, summary, informational)
    parameters = {
        "events": args.events,
        "units": len(ctx.units),
        "partitions": args.partitions,
        "rounds": args.rounds,
        "batch": args.batch,
        "step_events": args.step,
        "query_rate": args.query_rate,
        "query_via": args.query_via if args.query_rate > 0 else None,
        "seed": args.seed,
        "kinds": dict(ctx.generated.kinds),
        "event_loop": "uvloop" if uvloop else "asyncio",
        "broker": "given" if given_kafka else "throwaway single broker (deploy.launcher)",
        "redis": "given" if given_redis else "throwaway redis-server, no persistence",
        "git_at_start": revision,
        "uncommitted_changes_under_services_and_shared": changes,
    }
    path = write_results(ctx, runs, summary, informational, profiled, parameters)
    console.print(f"results written to {os.path.relpath(path)}")
    if not all(run.check["ok"] for run in runs if run.check is not None):
        console.print("[red]the root's counters do not match the events applied[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
