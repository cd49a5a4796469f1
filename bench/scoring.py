"""Replaying initiative events from Kafka into the Redis counters, queries running alongside."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console

from shared.settings import ScoringSettings, env_name

# isort: split
# The package beside this script: bench/ is on sys.path when it runs.
from scoring_replay.base import _git_revision, uvloop
from scoring_replay.hierarchy import PROVINCES, UPPER_LEVEL
from scoring_replay.profiling import print_profile
from scoring_replay.report import _service_changes, print_report, summarise, write_results
from scoring_replay.session import run_all

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
     GET /campaigns/{{c}}/units/{{u}}/progress against the scoring app under uvicorn with
     --query-workers (2) worker processes
     (SANGKIEN_SCORING_CONSUME=false) through a lean keep-alive HTTP/1.1 client (--query-via
     http; httpx.AsyncClient with --query-via httpx costs the client milliseconds of CPU a
     request here), or shared.counters.read_unit straight on Redis (--query-via read_unit).

  L  Queries during live ingest: events published at --live-rate (100) a second for
     --live-seconds (60) to a fresh topic while the real ScoringConsumer tails it and the same
     query load runs. A campaign's real ingest is a stream, not a replay: phase 1 of the
     national programme brought 696,948 initiatives in 144 days, about 5,000 a day, under
     one a second even if all came in office hours; 100 a second is over a hundred times
     that. Shows also how soon after the last event was sent the consumer had committed it.
  Q0 The same query load for as long on the counters L left, nothing ingesting: L's baseline.

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
        "--query-workers",
        type=int,
        default=2,
        help="uvicorn worker processes of the query server (WEB_CONCURRENCY): one Python "
        "process at 1,000 queries/s is most of a CPU, and its tail follows every hiccup (2)",
    )
    parser.add_argument(
        "--live-rate",
        type=float,
        default=100.0,
        help="events a second published during L; 0: no L and Q0 (100)",
    )
    parser.add_argument(
        "--live-seconds", type=float, default=60.0, help="how long each L and Q0 run lasts (60)"
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
        args.events, args.units, args.live_seconds = 100_000, 20_000, 20.0
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
                        "WEB_CONCURRENCY": str(args.query_workers),
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
        "query_workers": args.query_workers,
        "live_rate": args.live_rate,
        "live_seconds": args.live_seconds,
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
