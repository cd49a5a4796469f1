"""Publishing throughput to a real Kafka broker: the project's producer against aiokafka's."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.events import encode, partition_key
from shared.kafka.clients import create_producer
from shared.kafka.topics import TopicSpec, ensure_topics
from shared.settings import CommonSettings, env_name

try:
    from bench._common import BASELINE, Figure, build_events, report, schedule
except ImportError:  # run as `python bench/producer.py`: bench/ itself is on sys.path
    from _common import BASELINE, Figure, build_events, report, schedule  # type: ignore[no-redef]

DESCRIPTION = f"""\
Events per second published to a real Kafka broker and acknowledged.

Candidate: shared.kafka.clients.create_producer(settings): acks=all, idempotent, linger 5 ms.
Baseline: AIOKafkaProducer(bootstrap_servers=...) with aiokafka's defaults: acks=1, no
idempotence, no linger.

Each run publishes the same encoded InitiativeSubmitted events to a fresh topic (6
partitions by default), keyed by grassroots union (300 of them): `await producer.send(...)` for
each, then gather the delivery futures and flush. The clock runs from the first send to the
end of the flush; starting the producer and loading the topic's metadata are not timed.
After each run the topic's end offsets must add up to the number of events, or the script
exits with status 1.

Broker: {env_name("kafka_bootstrap_servers")} when set (topics are created with
{env_name("kafka_replication_factor")}, default 1, and deleted at the end); otherwise a
throwaway single broker started by deploy.launcher (needs Java 17+) and stopped at the end.
On a single broker acks=all waits for no follower, so the ratio shows the client-side cost of
idempotence and linger, not the cost of replication.

Baseline and candidate runs alternate; the table shows the median of each and the ratio
candidate / baseline. Figures are ratios because the machines are noisy: compare ratios
between runs, not events per second. Results also go to bench/results/producer.json.
"""
# Updating the bar for every event would cost as much as a send; every 500 is smooth enough.
PROGRESS_STEP = 500


async def _publish(
    producer: AIOKafkaProducer,
    topic: str,
    records: list[tuple[bytes, bytes]],
    progress: Progress,
    label: str,
) -> float:
    """Send every record, wait for all acknowledgements; return the seconds it took."""
    task = progress.add_task(label, total=len(records))
    futures = []
    started = time.perf_counter()
    for sent, (key, value) in enumerate(records, 1):
        futures.append(await producer.send(topic, value, key=key))
        if sent % PROGRESS_STEP == 0:
            progress.update(task, completed=sent)
    await asyncio.gather(*futures)
    await producer.flush()
    elapsed = time.perf_counter() - started
    progress.update(task, completed=len(records))
    return elapsed


async def _end_offsets(consumer: AIOKafkaConsumer, topic: str, partitions: int) -> list[int]:
    """The end offset of each partition of ``topic``."""
    tps = [TopicPartition(topic, partition) for partition in range(partitions)]
    offsets = await consumer.end_offsets(tps)
    return [offsets[tp] for tp in tps]


async def _bench(
    settings: CommonSettings, args: argparse.Namespace, console: Console, *, keep_topics: bool
) -> tuple[Figure, int]:
    """Create the topics, run the interleaved rounds, verify each; return the figure and keys."""
    bootstrap = settings.kafka_bootstrap_servers
    records = [(partition_key(event), encode(event)) for event in build_events(args.events)]
    plan = list(schedule(args.rounds))
    run_id = uuid4().hex[:8]
    topics = {(round_, side): f"bench.producer.{run_id}.{side}.{round_}" for round_, side in plan}
    # All topics up front: every run meets a broker holding the same partitions.
    await ensure_topics(
        bootstrap,
        [TopicSpec(topic, args.partitions) for topic in topics.values()],
        replication_factor=settings.kafka_replication_factor,
    )
    figure = Figure("published and acknowledged", "events/s")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        # Also waits until every new partition has a leader, so no run is timed waiting for one.
        for topic in topics.values():
            if sum(await _end_offsets(consumer, topic, args.partitions)) != 0:
                raise SystemExit(f"{topic} is not empty: not a fresh topic")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        # Transient: the bar is for watching; the line printed after each run is the record.
        with Progress(*columns, console=console, transient=True) as progress:
            for round_, side in plan:
                topic = topics[round_, side]
                producer = (
                    AIOKafkaProducer(bootstrap_servers=bootstrap)
                    if side == BASELINE
                    else create_producer(settings)
                )
                await producer.start()
                try:
                    await producer.partitions_for(topic)  # metadata loaded before the clock
                    label = f"{side:>9} round {round_}"
                    elapsed = await _publish(producer, topic, records, progress, label)
                finally:
                    await producer.stop()
                offsets = await _end_offsets(consumer, topic, args.partitions)
                written = sum(offsets)
                used = sum(1 for offset in offsets if offset)
                verdict = "ok" if written == args.events else "[red]MISMATCH[/red]"
                progress.console.print(
                    f"{label}: {elapsed:.2f} s, end offsets sum {written:,} of {args.events:,} "
                    f"({used}/{args.partitions} partitions) {verdict}"
                )
                if written != args.events:
                    raise SystemExit(1)
                figure.add(side, args.events / elapsed)
    finally:
        await consumer.stop()
        if not keep_topics:
            await _delete_topics(bootstrap, list(topics.values()))
    return figure, len({key for key, _ in records})


async def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Delete the benchmark's topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    """Run the producer benchmark against a given or a throwaway broker; print the table."""
    parser = argparse.ArgumentParser(
        prog="bench/producer.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per run (20000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (3)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic (6)")
    args = parser.parse_args(argv)
    console = Console()

    given = os.environ.get(env_name("kafka_bootstrap_servers"))
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as workdir:
        server = None
        if given:
            bootstrap = given
            console.print(f"broker: {bootstrap} (from {env_name('kafka_bootstrap_servers')})")
        else:
            from deploy.launcher import start_kafka

            server = start_kafka(workdir=Path(workdir), log=print)
            bootstrap = server.bootstrap_servers
        settings = CommonSettings(kafka_bootstrap_servers=bootstrap)
        try:
            # A given broker is left as it was found; a throwaway one goes with its folder.
            figure, keys = asyncio.run(
                _bench(settings, args, console, keep_topics=server is not None)
            )
        finally:
            if server is not None:
                server.stop()

    notes = []
    if settings.kafka_replication_factor == 1:
        notes.append(
            "replication factor 1: acks=all waits for no follower here, so the ratio is the "
            "client-side cost of idempotence and linger, not the cost of replication"
        )
    report(
        console,
        "producer",
        title=f"Kafka producer, {args.events:,} events to {args.partitions} partitions",
        baseline="AIOKafkaProducer(bootstrap_servers=...): acks=1, not idempotent",
        baseline_label="AIOKafkaProducer's defaults (acks=1, not idempotent)",
        candidate="create_producer(settings): acks=all, idempotent, linger 5 ms",
        figures=[figure],
        parameters={
            "events": args.events,
            "rounds": args.rounds,
            "partitions": args.partitions,
            "keys": keys,
            "broker": "given" if given else "throwaway single broker (deploy.launcher)",
        },
        notes=notes,
    )


if __name__ == "__main__":
    main()
