"""A whole benchmark: generate and publish the events, run the rounds, maybe the profile."""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console

from services.scoring.adapters.counters import InitiativeEvent
from shared.events import AnyEvent, decode
from shared.kafka import create_producer, ensure_topics, topic_specs
from shared.redis import create_redis
from shared.settings import ScoringSettings

from .cpu import Meter
from .events import generate, verify_sample
from .hierarchy import build_hierarchy
from .live import measure_live
from .measure import Context, Run, _coordinator_ready, _progress, measure
from .profiling import profile
from .registry import SLOW_CALL_US
from .report import CANDIDATES, summarise

PROGRESS_STEP = 5000


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
        if query_target is not None and args.live_rate > 0:
            runs += await measure_live(ctx)
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
                live = [f"{topic}.live.{n}" for n in range(1, args.rounds + 1)]
                existing = set(await admin.list_topics())
                await admin.delete_topics([t for t in (topic, dead_letter, *live) if t in existing])
            finally:
                await admin.close()
