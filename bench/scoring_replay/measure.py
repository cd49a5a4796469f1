"""The runs: K, R, C and CQ, what they share, and the interleaved rounds of them."""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.scoring.adapters.consumer import ScoringConsumer
from services.scoring.adapters.counters import CounterStore, InitiativeEvent
from services.scoring.adapters.rankings import RankingRefresher, Rankings
from shared.events import decode
from shared.kafka import create_consumer
from shared.redis import create_redis
from shared.settings import ScoringSettings

from .cpu import Meter
from .events import Generated
from .hierarchy import Unit
from .queries import QueryLoad, QueryStats, percentile
from .registry import check_root, redis_commands, reset_redis, slow_scripts

COMMITTED_POLL_SECONDS = 0.1


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

    def settings(self, group: str, *, topic: str | None = None) -> ScoringSettings:
        """Scoring settings pointing at this run's broker, Redis and topics (or ``topic``)."""
        return ScoringSettings(
            kafka_bootstrap_servers=self.bootstrap,
            redis_url=self.redis_url,
            topic_initiative_events=topic or self.topic,
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
