"""L and Q0: progress queries while events arrive at a steady rate, and the same queries alone.

CQ asks for queries while the consumer replays as fast as it can, which on two CPUs leaves
none for the query server. A campaign's ingest is nothing like that: the national programme's
busiest months brought a few thousand initiatives a day. L publishes events at --live-rate (by
default 1,000 a second, hundreds of times that) while the real consumer tails the topic and the
query load runs; Q0 runs the same query load on the Redis L left behind, with no ingest: the
baseline of the ratio.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from services.scoring.adapters.consumer import ScoringConsumer
from shared.kafka import create_producer, ensure_topics, topic_specs
from shared.redis import create_redis

from .measure import COMMITTED_POLL_SECONDS, Context, Run, _committed, _progress
from .queries import QueryLoad, percentile
from .registry import redis_commands, reset_redis, slow_scripts

PUBLISH_TICK_SECONDS = 0.05  # what came in since the last round, as an outbox relay sends it
CATCH_UP_TIMEOUT_SECONDS = 120.0


async def measure_live(ctx: Context) -> list[Run]:
    """L then Q0 in each round (Q0 reads what L wrote); a line after each run."""
    runs = []
    for round_ in range(1, ctx.args.rounds + 1):
        for run_side in (run_live, run_queries_alone):
            run = await run_side(ctx, round_)
            runs.append(run)
            q = run.queries
            assert q is not None
            line = (
                f"{run.side} round {round_}: queries {q.rate:,.0f}/s "
                f"p50 {percentile(q.latencies_ms, 0.5):.1f} ms "
                f"p99 {percentile(q.latencies_ms, 0.99):.1f} ms, shed {q.shed:,}"
            )
            if run.side == "L" and run.check is not None:
                line += (
                    f"; {run.events:,} events in {run.seconds:.1f} s, caught up "
                    f"{run.check['catch_up_seconds_after_last_publish']:.2f} s after the last"
                    f"; {len(run.slow_scripts_ms)} scripts ≥ 10 ms, the longest "
                    f"{max(run.slow_scripts_ms, default=0):.0f} ms"
                )
            ctx.console.print(line)
    return runs


async def run_live(ctx: Context, round_: int) -> Run:
    """L: publish at --live-rate for --live-seconds while the consumer tails and queries run."""
    assert ctx.query_target is not None
    args = ctx.args
    count = min(len(ctx.generated.records), int(args.live_rate * args.live_seconds))
    records = ctx.generated.records[:count]
    topic = f"{ctx.topic}.live.{round_}"
    settings = ctx.settings(f"bench.scoring.{ctx.run_id}.L.{round_}", topic=topic)
    await ensure_topics(
        settings.kafka_servers,
        [spec for spec in topic_specs(settings) if spec.name == topic],
        replication_factor=settings.kafka_replication_factor,
    )
    await reset_redis(ctx.redis, ctx.units)
    mode, target = ctx.query_target
    load = QueryLoad(mode, target, [unit.id for unit in ctx.units], args.query_rate)
    redis = create_redis(ctx.redis_url)
    scoring = ScoringConsumer(settings, redis)
    producer = create_producer(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap)
    running: asyncio.Task[None] | None = None
    try:
        await admin.start()
        await producer.start()
        await producer.partitions_for(topic)
        await load.start()
        running = asyncio.create_task(scoring.run())
        # The consumer joins its group before the clock starts: L measures steady state.
        await _wait_assigned(scoring, running)
        before = await ctx.meter.read()
        load.begin()
        started = time.perf_counter()
        ends = await _publish_paced(ctx, producer, topic, records, args.live_rate)
        published = time.perf_counter() - started
        # The queries go on until the consumer has caught up: that is still ingest.
        caught_up = await _wait_committed(admin, settings.scoring_consumer_group, ends, running)
        stats = await load.finish()
        cpu = ctx.meter.spent(before, await ctx.meter.read())
        cpu["query client"] = stats.client_cpu
    finally:
        load.kill()
        await scoring.stop()
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
        await producer.stop()
        await admin.close()
        await redis.aclose()
    check = {
        "ok": True,  # L's events are a prefix of the mix: the root is not checked against them
        "published_seconds": published,
        "catch_up_seconds_after_last_publish": caught_up,
    }
    commands, slow = await redis_commands(ctx.redis), await slow_scripts(ctx.redis)
    return Run("L", round_, count, published, cpu, commands, slow, [], stats, check)


async def run_queries_alone(ctx: Context, round_: int) -> Run:
    """Q0: the same query load for as long, on the counters L left, with nothing ingesting."""
    assert ctx.query_target is not None
    mode, target = ctx.query_target
    load = QueryLoad(mode, target, [unit.id for unit in ctx.units], ctx.args.query_rate)
    try:
        await load.start()
        before = await ctx.meter.read()
        load.begin()
        await asyncio.sleep(ctx.args.live_seconds)
        stats = await load.finish()
        cpu = ctx.meter.spent(before, await ctx.meter.read())
        cpu["query client"] = stats.client_cpu
    finally:
        load.kill()
    return Run("Q0", round_, 0, stats.seconds, cpu, queries=stats)


async def _wait_assigned(scoring: ScoringConsumer, running: asyncio.Task[None]) -> None:
    """Until the consumer holds its partitions (a minute at most)."""
    for _ in range(600):
        if running.done():
            running.result()
            raise RuntimeError("the scoring consumer stopped by itself")
        if scoring.consumer is not None and scoring.consumer.assignment():
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("L: the consumer got no partitions in a minute")


async def _publish_paced(
    ctx: Context,
    producer: AIOKafkaProducer,
    topic: str,
    records: list[tuple[bytes, bytes]],
    rate: float,
) -> dict[int, int]:
    """Send ``records`` at ``rate`` a second, evenly; the end offset of each partition."""
    futures = []
    sent = 0
    with _progress(ctx.console) as progress:
        task = progress.add_task(f"L: publishing at {rate:,.0f}/s", total=len(records))
        started = time.perf_counter()
        while sent < len(records):
            due = min(len(records), int((time.perf_counter() - started) * rate) + 1)
            for key, value in records[sent:due]:
                futures.append(await producer.send(topic, value, key=key))
            sent = due
            progress.update(task, completed=sent)
            await asyncio.sleep(PUBLISH_TICK_SECONDS)
        placed = await asyncio.gather(*futures)
    ends: dict[int, int] = {}
    for meta in placed:
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    return ends


async def _wait_committed(
    admin: AIOKafkaAdminClient, group: str, ends: dict[int, int], running: asyncio.Task[None]
) -> float:
    """Seconds until the group has committed every partition's end (the freshness lag)."""
    started = time.perf_counter()
    while True:
        if running.done():
            running.result()
            raise RuntimeError("the scoring consumer stopped by itself")
        committed = await _committed(admin, group)
        if all(committed.get(p, 0) >= end for p, end in ends.items()):
            return time.perf_counter() - started
        if time.perf_counter() - started > CATCH_UP_TIMEOUT_SECONDS:
            raise RuntimeError(f"L: the consumer did not catch up in {CATCH_UP_TIMEOUT_SECONDS} s")
        await asyncio.sleep(COMMITTED_POLL_SECONDS)
