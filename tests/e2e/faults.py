"""Load with faults, shared by the fault and scale-out tests: a generated union hierarchy seeded
through the API, support teams registering concurrently (each with its own token, retrying
with the same Idempotency-Key until acknowledged), a reviewer, the database's truth and the
counters compared with it at every level, and a log of the faults with their times."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from deploy.launcher.stack import LocalStack
from shared.counters import read_unit
from shared.redis import create_redis

ROOT = "tong-ldld-vn"
STATUSES = ("registered", "under_review", "valid", "rejected", "withdrawn")
# A request is retried on these: the service is down, restarting, or shedding load.
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


# --- the hierarchy and its campaign ------------------------------------------------------------


@dataclass(frozen=True)
class Hierarchy:
    """A province, its upper-level unions and their grassroots unions; ``stalled`` grassroots
    unions get no registration at all, so their heads are alerted."""

    campaign: str
    province: str
    uppers: list[str]
    parent: dict[str, str]  # grassroots union → its upper-level union
    stalled: list[str]
    target: int  # each grassroots union's

    @classmethod
    def generate(
        cls, campaign: str, *, uppers: int, per_upper: int, stalled_per_upper: int, target: int
    ) -> Hierarchy:
        """``uppers`` upper-level unions of ``per_upper`` grassroots unions each; the last
        ``stalled_per_upper`` of each register nothing."""
        province = "tinh-thu-tai"
        upper_ids = [f"ldld-huyen-{n}" for n in range(1, uppers + 1)]
        parent = {
            f"cdcs-{u}-{g}": upper
            for u, upper in enumerate(upper_ids, 1)
            for g in range(1, per_upper + 1)
        }
        last_active = per_upper - stalled_per_upper
        stalled = [unit for unit in parent if int(unit.rsplit("-", 1)[1]) > last_active]
        return cls(campaign, province, upper_ids, parent, stalled, target)

    @property
    def units(self) -> list[str]:
        """Every unit with a target, the province first."""
        return [self.province, *self.uppers, *self.parent]

    @property
    def active(self) -> list[str]:
        """The grassroots unions that register."""
        return [unit for unit in self.parent if unit not in self.stalled]

    def head(self, unit: str) -> str:
        """The e-mail address of the unit's head."""
        return f"chu-tich.{unit}@congdoan-thu-tai.example"

    def rows(self) -> list[dict[str, object]]:
        """The rows of ``POST /units/import``."""
        levels = {self.province: "province", **dict.fromkeys(self.uppers, "upper_level")}
        parents = {self.province: ROOT, **dict.fromkeys(self.uppers, self.province), **self.parent}
        return [
            {
                "id": unit,
                "name": f"Công đoàn {unit}",
                "parent_id": parents[unit],
                "level": levels.get(unit, "grassroots"),
                "members": 50,
                "head": {
                    "name": f"Chủ tịch {unit}",
                    "email": self.head(unit),
                    "alert_channels": ["email"],
                },
            }
            for unit in self.units
        ]

    def targets(self) -> dict[str, int]:
        """Every unit's target: the grassroots one, summed up the tree."""
        targets = dict.fromkeys(self.parent, self.target)
        for upper in self.uppers:
            targets[upper] = sum(self.target for unit in self.parent if self.parent[unit] == upper)
        targets[self.province] = self.target * len(self.parent)
        return targets


def seed(admin: httpx.Client, hierarchy: Hierarchy, *, starts_on: date, ends_on: date) -> None:
    """The units, the campaign (counting registered initiatives) and every target."""
    check(admin.post("/units/import", json={"units": hierarchy.rows()}))
    campaign = {
        "id": hierarchy.campaign,
        "name": "Đợt thi đua thử tải",
        "organiser_id": hierarchy.province,
        "starts_on": str(starts_on),
        "ends_on": str(ends_on),
        "eligible_from": "2021-01-01",
        "eligible_to": str(ends_on),
        "counts": "registered",
    }
    check(admin.post("/campaigns", json=campaign))
    for unit, target in hierarchy.targets().items():
        path = f"/campaigns/{hierarchy.campaign}/targets/{unit}"
        check(admin.put(path, json={"assigned_target": target}))


def issue_token(admin: httpx.Client, *, role: str, scope: str, actor: str) -> str:
    """A token of its own for one client."""
    body = {"role": role, "scope_union_id": scope, "actor_id": actor, "label": f"load {actor}"}
    token: str = check(admin.post("/tokens", json=body)).json()["token"]
    return token


def check(response: httpx.Response) -> httpx.Response:
    """The response, if it succeeded; otherwise fail with what the service said."""
    assert response.is_success, f"{response.request.method} {response.request.url}: " + (
        f"{response.status_code} {response.text[:500]}"
    )
    return response


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the clients were told: only acknowledged writes are recorded."""

    registered: dict[str, str] = field(default_factory=dict)  # initiative id → unit
    decided: dict[str, str] = field(default_factory=dict)  # initiative id → status it took
    refused: list[str] = field(default_factory=list)  # 4xx answers: the load is built to pass
    retries: Counter[str] = field(default_factory=Counter)  # why requests were sent again
    replayed: int = 0  # answers the service gave from its idempotency record
    latencies: list[float] = field(default_factory=list)  # acknowledged requests, seconds


class Writer:
    """Sends one write until it is acknowledged: on a lost connection, a timeout or a 5xx the
    same request goes again with the same Idempotency-Key, to the next address (a load
    balancer's part when there are several), so it takes effect once however often it is sent."""

    def __init__(self, urls: Sequence[str], token: str, ledger: Ledger, *, give_up_at: float):
        self.urls = list(urls)
        self.ledger = ledger
        self.give_up_at = give_up_at
        self.client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(15.0, connect=2.0)
        )
        self._next = random.randrange(len(self.urls))
        self._down_until: dict[str, float] = {}  # an address that refused, left alone a while

    def _address(self) -> str:
        """The next address in turn that has not just refused a connection (any, if all did)."""
        now = time.monotonic()
        for _ in self.urls:
            url = self.urls[self._next % len(self.urls)]
            self._next += 1
            if self._down_until.get(url, 0.0) <= now:
                return url
        return url

    async def post(self, path: str, body: dict[str, object]) -> dict[str, object] | None:
        """The acknowledged answer, or None when refused (4xx) or never acknowledged."""
        key = str(uuid.uuid4())
        started = time.monotonic()
        while time.monotonic() < self.give_up_at:
            url = self._address()
            try:
                answer = await self.client.post(
                    url + path, json=body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError as error:
                self.ledger.retries[type(error).__name__] += 1
                if isinstance(error, httpx.ConnectError):
                    self._down_until[url] = time.monotonic() + 2.0
                await asyncio.sleep(0.3)
                continue
            if answer.status_code in RETRYABLE_STATUS:
                self.ledger.retries[f"http {answer.status_code}"] += 1
                await asyncio.sleep(float(answer.headers.get("Retry-After", "0.3")))
                continue
            if not answer.is_success:
                self.ledger.refused.append(f"{path}: {answer.status_code} {answer.text[:300]}")
                return None
            self.ledger.replayed += answer.headers.get("Idempotent-Replayed") == "true"
            self.ledger.latencies.append(time.monotonic() - started)
            result: dict[str, object] = answer.json()
            return result
        return None

    async def close(self) -> None:
        """Close the connections."""
        await self.client.aclose()


async def support_team(
    writer: Writer,
    campaign: str,
    units: Sequence[str],
    *,
    stop: asyncio.Event,
    decide: asyncio.Queue[str],
    pause: float,
    recognised_on: date,
) -> None:
    """A support team registering for its units until ``stop``; every acknowledged id goes to
    the ledger and to the reviewer."""
    rng = random.Random(units[0])
    n = 0
    while not stop.is_set():
        n += 1
        unit = rng.choice(units)
        body = {
            "campaign_id": campaign,
            "union_id": unit,
            "title": f"Sáng kiến cải tiến quy trình số {n} của {unit}",
            "field": rng.choice(["Giáo dục", "Y tế", "Sản xuất", "Hành chính"]),
            "authors": [{"name": f"Tác giả {unit} {n}", "category": "enterprise_worker"}],
            "recognised_by": "initiative_council",
            "recognised_on": str(recognised_on),
            "application_date": str(recognised_on - timedelta(days=30)),
            "estimated_benefit_vnd": 1_000_000 * rng.randint(1, 50),
        }
        answer = await writer.post("/initiatives", body)
        if answer is not None:
            writer.ledger.registered[str(answer["id"])] = unit
            decide.put_nowait(str(answer["id"]))
        await asyncio.sleep(pause)


async def reviewer(writer: Writer, decide: asyncio.Queue[str], *, stop: asyncio.Event) -> None:
    """An upper-level officer: of every four initiatives one is left under review, one is
    withdrawn, one marked valid, one rejected; what is still queued at ``stop`` stays under
    review."""
    n = 0
    while not stop.is_set():
        try:
            initiative = await asyncio.wait_for(decide.get(), 0.5)
        except TimeoutError:
            continue
        n += 1
        action = n % 4
        if action == 0:
            continue
        if action == 1:
            path, body, status = "withdraw", {"reason": "Trùng lặp"}, "withdrawn"
        else:
            status = "valid" if action == 2 else "rejected"
            path, body = "review", {"decision": status}
        if await writer.post(f"/initiatives/{initiative}/{path}", body) is not None:
            writer.ledger.decided[initiative] = status


# --- the truth and the counters ------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One initiative as the submission database holds it."""

    id: str
    path: tuple[str, ...]
    status: str


_INITIATIVES = "SELECT id, union_path, status FROM initiatives WHERE campaign_id = "
_PENDING_OUTBOX = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


def stored_initiatives(database_url: str, campaign: str) -> list[Stored]:
    """Every initiative of the campaign in the submission database, read directly."""
    rows = _query(database_url, _INITIATIVES + ("?" if _sqlite(database_url) else "$1"), campaign)
    return [Stored(str(i), tuple(p for p in path.split("/") if p), s) for i, path, s in rows]


def pending_outbox(database_url: str) -> int:
    """Outbox rows the relay has not published yet."""
    return int(_query(database_url, _PENDING_OUTBOX)[0][0])


def _sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite")


def _query(database_url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    if _sqlite(database_url):
        with sqlite3.connect(database_url.split(":///", 1)[1], timeout=30) as db:
            return list(db.execute(sql, args).fetchall())

    async def fetch() -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


class Placed(Protocol):
    """An initiative's path (root first) and status, however a test read it."""

    @property
    def path(self) -> tuple[str, ...]: ...

    @property
    def status(self) -> str: ...


def truth(stored: Sequence[Placed], unit: str) -> dict[str, int]:
    """What ``unit`` must count: its whole subtree's initiatives by status."""
    counts = Counter(s.status for s in stored if unit in s.path)
    return {
        "registered": sum(n for status, n in counts.items() if status != "withdrawn"),
        "under_review": counts["submitted"],
        "valid": counts["valid"],
        "rejected": counts["rejected"],
        "withdrawn": counts["withdrawn"],
    }


async def _counted(redis_url: str, campaign: str, units: Sequence[str]) -> dict[str, dict]:
    redis = create_redis(redis_url)
    try:
        return {
            unit: {s: getattr(await read_unit(redis, campaign, unit), s) for s in STATUSES}
            for unit in units
        }
    finally:
        await redis.aclose()


def wait_until_drained(database_url: str, timeout: float) -> float:
    """Until the relay has published every outbox row; returns the seconds it took."""
    started = time.monotonic()
    while (left := pending_outbox(database_url)) and time.monotonic() - started < timeout:
        time.sleep(0.5)
    assert left == 0, f"{left} outbox rows still unpublished after {timeout:.0f} s"
    return time.monotonic() - started


def wait_for_exact_counters(
    redis_url: str, campaign: str, units: Sequence[str], stored: list[Stored], timeout: float
) -> tuple[dict[str, dict], dict[str, tuple[dict, dict]], float]:
    """Poll the counters until every unit's equal the database's truth, or the timeout; returns
    the counters, the mismatches left and the seconds it took."""
    started = time.monotonic()
    expected = {unit: truth(stored, unit) for unit in units}
    while True:
        counted = asyncio.run(_counted(redis_url, campaign, units))
        wrong = {u: (counted[u], expected[u]) for u in units if counted[u] != expected[u]}
        if not wrong or time.monotonic() - started > timeout:
            return counted, wrong, time.monotonic() - started
        time.sleep(1)


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record a topic holds now, from its start (no consumer group: every partition)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(60):
            while not (partitions := list(consumer.assignment())):
                await _fetch_into(consumer, records)  # the first fetch makes the assignment
            ends = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                await _fetch_into(consumer, records)
        return records
    finally:
        await consumer.stop()


async def _fetch_into(
    consumer: AIOKafkaConsumer, records: list[ConsumerRecord[bytes, bytes]]
) -> None:
    for batch in (await consumer.getmany(timeout_ms=200)).values():
        records += batch


# --- the fault log -------------------------------------------------------------------------------


@dataclass
class FaultLog:
    """What was done to the stack, when (seconds since the load began) and how long it took."""

    started: float = field(default_factory=time.monotonic)
    entries: list[str] = field(default_factory=list)
    killed: list[tuple[str, float]] = field(default_factory=list)  # (component, epoch seconds)

    def kill(self, stack: LocalStack, name: str) -> None:
        """SIGKILL a component of ``stack``, noting when."""
        self.killed.append((name, time.time()))
        stack.kill(name)

    def run(self, what: str, action: Callable[[], object]) -> None:
        """Do ``action`` and note it with its time."""
        at = time.monotonic() - self.started
        action()
        took = time.monotonic() - self.started - at
        self.entries.append(f"{at:6.1f} s  {what} ({took:.1f} s)")
        print(f"fault {self.entries[-1]}", flush=True)

    def wait_until(self, offset: float) -> None:
        """Sleep until ``offset`` seconds after the load began."""
        time.sleep(max(0.0, offset - (time.monotonic() - self.started)))


def levels_summary(hierarchy: Hierarchy, counted: dict[str, dict]) -> list[str]:
    """The counts per level, for the report: province, each upper-level union, and the
    grassroots unions summed."""
    lines = [f"  province {hierarchy.province}: {counted[hierarchy.province]}"]
    lines += [f"  upper-level {u}: {counted[u]}" for u in hierarchy.uppers]
    grassroots = Counter[str]()
    for unit in hierarchy.parent:
        grassroots.update(counted[unit])
    lines.append(f"  {len(hierarchy.parent)} grassroots unions summed: {dict(grassroots)}")
    return lines


async def run_load(
    urls: list[str],
    campaign: str,
    teams: list[tuple[str, list[str]]],
    officer: str,
    ledger: Ledger,
    *,
    seconds: float,
    pause: float,
    recognised_on: date,
    give_up_after: float,
) -> float:
    """Support teams (token, units) register and a reviewer decides, for ``seconds``; each
    request in hand is retried until ``give_up_after`` seconds past the load. Returns the
    seconds until the last request in hand was answered."""
    started = time.monotonic()
    give_up_at = started + seconds + give_up_after
    stop, decide = asyncio.Event(), asyncio.Queue[str]()
    writers = [Writer(urls, token, ledger, give_up_at=give_up_at) for token, _ in teams]
    review = Writer(urls, officer, ledger, give_up_at=give_up_at)
    tasks = [
        asyncio.create_task(
            support_team(
                writer,
                campaign,
                units,
                stop=stop,
                decide=decide,
                pause=pause,
                recognised_on=recognised_on,
            )
        )
        for writer, (_, units) in zip(writers, teams, strict=True)
    ]
    tasks.append(asyncio.create_task(reviewer(review, decide, stop=stop)))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    for writer in (*writers, review):
        await writer.close()
    return time.monotonic() - started
