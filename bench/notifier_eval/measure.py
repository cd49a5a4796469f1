"""The runs: B reads the counters, E0–E2 are three evaluations an hour apart on a fresh
database, each timed with the CPU it took in this process, in its other threads and in Redis."""

from __future__ import annotations

import argparse
import gc
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from redis.asyncio import Redis
from rich.console import Console
from sqlalchemy import func, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from services.notifier.adapters import repository
from services.notifier.adapters.migrations import migrate
from services.notifier.adapters.tables import (
    AlertChangeRow,
    AlertRow,
    DeliveryRow,
    NotifierTable,
    SilenceRow,
)
from services.notifier.domain.rules import CampaignPace, active_rules
from services.notifier.service.evaluation import Evaluation, Evaluator
from services.notifier.service.runner import policy_from
from shared.counters import UnitCounters, UnitSummary, read_summaries, read_units
from shared.database import Database, create_engine
from shared.events import AlertRule
from shared.settings import NotifierSettings

from .world import CAMPAIGN, EVALUATED_AT, Country

T = TypeVar("T")

# E0 makes every lagging unit's alerts pending (the service's pending_for is an hour), E1 an hour
# later fires them, E2 an hour after that finds little changed: the three evaluations a campaign
# that starts being watched goes through, the interval (60 minutes) apart.
EVALUATIONS = (
    ("E0", EVALUATED_AT - timedelta(hours=1)),
    ("E1", EVALUATED_AT),
    ("E2", EVALUATED_AT + timedelta(hours=1)),
)
SIDES = ("B", "R", "J", "E0", "E1", "E2")
HOLDER = "bench-notifier"
LEASE_NAME = "notifier"  # the service's (services/notifier/service/runner.py)
# The notifier's Alembic version table (services/notifier/migrations/env.py): its own, so a
# database it shares with the submission service keeps the other's.
VERSION_TABLE = "alembic_version_notifier"


@dataclass
class Context:
    """What every run needs."""

    args: argparse.Namespace
    console: Console
    redis: Redis
    country: Country
    workdir: Path
    database_url: str | None  # given: PostgreSQL (or another SQLite) emptied before each round


@dataclass
class Run:
    """One timed step."""

    round: int
    side: str
    at: str | None
    seconds: float
    units: int
    cpu: dict[str, float]  # seconds: event-loop thread, other threads of this process, Redis
    evaluation: dict[str, Any] | None = None  # what Evaluator.evaluate reported
    written: dict[str, int] = field(default_factory=dict)  # rows the step added, by table


def settings_defaults() -> NotifierSettings:
    """The notifier's settings as shipped (no environment read): the policy the service runs."""
    return NotifierSettings.model_construct()


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class GcPauses:
    """How long the garbage collector stopped the process, by generation, while in use."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.counts[info["generation"]] += 1

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


async def timed(
    redis: Redis, step: Callable[[], Awaitable[T]]
) -> tuple[T, float, dict[str, float]]:
    """Run ``step``: its result, wall seconds, and CPU seconds by where they were spent with
    the garbage collector's pauses (part of the event loop's time, counted again apart)."""
    gc.collect()  # every step starts with the same garbage: none
    redis_before = await _redis_cpu(redis)
    thread, process = time.thread_time(), time.process_time()
    with GcPauses() as pauses:
        started = time.perf_counter()
        result = await step()
        seconds = time.perf_counter() - started
    loop_cpu = time.thread_time() - thread
    cpu = {
        "event loop thread": loop_cpu,
        # Clamped: the two clocks tick apart, so a step without threads can come out at -0.00.
        "other threads (aiosqlite's: SQLite)": max(0.0, time.process_time() - process - loop_cpu),
        "redis-server": await _redis_cpu(redis) - redis_before,
        "of the loop's: gc pauses": sum(pauses.seconds),
        "full collections (count)": pauses.counts[2],
    }
    return result, seconds, cpu


async def read_round(ctx: Context, round_: int) -> list[Run]:
    """B: read_summaries for every unit with a target (the evaluation's read); R: read_units,
    every field of every unit parsed (informational: what the evaluation read before); J: the
    judging alone on what B read (rules.CampaignPace's standing, active_rules)."""
    ids = ctx.country.unit_ids
    cutoff = CampaignPace.at(
        campaign_id=CAMPAIGN, campaign=ctx.country.campaign, at=EVALUATED_AT
    ).backlog_cutoff

    async def read() -> dict[str, UnitSummary]:
        # As the evaluation reads: with the cyclic garbage collector paused.
        gc.disable()
        try:
            return await read_summaries(ctx.redis, CAMPAIGN, ids, waiting_before=cutoff)
        finally:
            gc.enable()

    async def read_all() -> dict[str, UnitCounters]:
        gc.disable()
        try:
            return await read_units(ctx.redis, CAMPAIGN, ids)
        finally:
            gc.enable()

    counters, seconds, cpu = await timed(ctx.redis, read)
    runs = [Run(round_, "B", None, seconds, len(ids), cpu)]
    _, seconds, cpu = await timed(ctx.redis, read_all)
    runs.append(Run(round_, "R", None, seconds, len(ids), cpu))

    async def judge() -> int:
        # As the evaluation judges: the campaign's pace once, then every unit, collector paused.
        registry, campaign = ctx.country.registry, ctx.country.campaign
        targets = registry.targets[CAMPAIGN]
        active = 0
        gc.disable()
        try:
            pace = CampaignPace.at(campaign_id=CAMPAIGN, campaign=campaign, at=EVALUATED_AT)
            for unit_id in ids:
                unit = pace.standing(
                    unit_id=unit_id,
                    name=registry.units[unit_id].name,
                    target=targets[unit_id],
                    counters=counters[unit_id],
                )
                active += sum(active_rules(unit).values())
        finally:
            gc.enable()
        return active

    _, seconds, cpu = await timed(ctx.redis, judge)
    runs.append(Run(round_, "J", EVALUATED_AT.isoformat(), seconds, len(ids), cpu))
    return runs


@asynccontextmanager
async def fresh_database(ctx: Context, name: str) -> AsyncIterator[Database]:
    """An empty notifier database, migrated by Alembic: a new SQLite file, or the given
    database with the notifier's tables dropped and made again."""
    if ctx.database_url is None:
        path = ctx.workdir / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = ctx.database_url
        await drop_tables(url)
    await migrate(url)
    engine = create_engine(url)
    try:
        database = Database(engine)
        await add_silences(database, ctx)
        yield database
    finally:
        await engine.dispose()
        if ctx.database_url is None:
            _remove_sqlite(path)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def notifier_tables(engine: AsyncEngine) -> list[str]:
    """The notifier's tables (and its Alembic version table) the database already holds."""
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    ours = {*NotifierTable.metadata.tables, VERSION_TABLE}
    return sorted(set(names) & ours)


async def drop_tables(url: str) -> None:
    """Drop the notifier's tables and its Alembic version table; nothing else."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(NotifierTable.metadata.drop_all)
            await connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    finally:
        await engine.dispose()


async def add_silences(database: Database, ctx: Context) -> None:
    """--silences silences in force during the three evaluations: units and subtrees picked
    at random, every rule or one; what a campaign's heads would have asked for."""
    ids = ctx.country.unit_ids
    step = max(1, len(ids) // max(1, ctx.args.silences))
    rules = (None, AlertRule.BEHIND, AlertRule.REVIEW_BACKLOG, None)
    async with database.transaction() as session:
        for n in range(ctx.args.silences):
            rule = rules[n % len(rules)]
            session.add(
                SilenceRow(
                    id=str(uuid.UUID(int=n + 1)),
                    unit_id=ids[(n * step + 7) % len(ids)],
                    subtree=n % 3 == 0,
                    rule=rule.value if rule else None,
                    campaign_id=CAMPAIGN if n % 2 else None,
                    starts_at=EVALUATED_AT - timedelta(days=1),
                    ends_at=EVALUATED_AT + timedelta(days=2),
                    author="bench",
                    reason="Đơn vị đang tổng hợp hồ sơ",
                    created_at=datetime.now(UTC),
                )
            )


async def _row_counts(database: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with database.read_only() as session:
        for table in (AlertRow, AlertChangeRow):
            counted = await session.exec(select(func.count()).select_from(table))
            counts[table.__tablename__] = counted.one()
        channels = await session.exec(
            select(DeliveryRow.channel, func.count()).group_by(DeliveryRow.channel)
        )
        for channel, count in channels:
            counts[f"deliveries: {channel}"] = count
    return counts


def _evaluation_json(summary: Evaluation) -> dict[str, Any]:
    return {
        "campaigns": summary.campaigns,
        "units": summary.units,
        "changes": summary.changes,
        "messages": summary.messages,
        "deliveries": summary.deliveries,
        "firing": summary.firing,
        "firing_by_rule": dict(summary.by_rule),
    }


def make_evaluator(ctx: Context, database: Database) -> Evaluator:
    """The service's evaluator with its shipped settings, on this database."""
    settings = settings_defaults()
    return Evaluator(
        database=database,
        redis=ctx.redis,
        registry=ctx.country.registry,
        policy=policy_from(settings),
        lease_name=LEASE_NAME,
        holder=HOLDER,
        alerts_topic=settings.topic_alerts,
        backlog_limit_days=settings.notifier_backlog_limit_days,
    )


async def take_lease(database: Database) -> None:
    """Take the lease as the runner does before it evaluates (not timed)."""
    settings = settings_defaults()
    async with database.transaction() as session:
        held = await repository.take_lease(
            session,
            name=LEASE_NAME,
            holder=HOLDER,
            now=datetime.now(UTC),
            ttl=timedelta(seconds=settings.notifier_lease_seconds),
        )
    if not held:
        raise RuntimeError("the lease is held by another notifier: is one using this database?")


async def evaluate_round(ctx: Context, round_: int) -> list[Run]:
    """E0, E1, E2 on a fresh database."""
    runs = []
    async with fresh_database(ctx, f"round-{round_}") as database:
        evaluator = make_evaluator(ctx, database)
        before = await _row_counts(database)
        for side, at in EVALUATIONS:
            await take_lease(database)
            summary, seconds, cpu = await timed(ctx.redis, lambda at=at: evaluator.evaluate(at))
            after = await _row_counts(database)
            written = {name: after[name] - before.get(name, 0) for name in after}
            before = after
            runs.append(
                Run(
                    round_,
                    side,
                    at.isoformat(),
                    seconds,
                    summary.units,
                    cpu,
                    _evaluation_json(summary),
                    written,
                )
            )
            ctx.console.print(_line(runs[-1]))
    return runs


def _line(run: Run) -> str:
    written = ", ".join(f"{n:,} {name}" for name, n in run.written.items() if n)
    return (
        f"  round {run.round} {run.side}: {run.seconds:.2f} s, "
        f"{run.units / run.seconds:,.0f} units/s; wrote {written or 'nothing'}"
    )


async def measure(ctx: Context) -> list[Run]:
    """--rounds rounds, B and J then E0–E2, the first side swapping each round."""
    runs: list[Run] = []
    for round_ in range(1, ctx.args.rounds + 1):
        order = (read_round, evaluate_round) if round_ % 2 else (evaluate_round, read_round)
        for side in order:
            found = await side(ctx, round_)
            if side is read_round:
                for run in found:
                    ctx.console.print(_line(run).replace("; wrote nothing", ""))
            runs += found
    return runs
