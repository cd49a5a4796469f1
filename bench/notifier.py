"""One evaluation of the notifier over the whole country, against reading the same counters."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console

from shared.database import create_engine
from shared.redis import create_redis
from shared.settings import env_name

# isort: split
# The packages beside this script: bench/ is on sys.path when it runs.
from notifier_eval.base import _git_revision, uvloop
from notifier_eval.measure import Context, measure, notifier_tables
from notifier_eval.profiling import print_profile, profile
from notifier_eval.report import print_country, print_report, summarise, write_results
from notifier_eval.world import Shares, build_country
from scoring_replay.hierarchy import PROVINCES, UPPER_LEVEL
from scoring_replay.report import _service_changes

DESCRIPTION = f"""\
One evaluation of the notifier (services/notifier/service/evaluation.py, Evaluator.evaluate)
over --units (150,000) units with targets, against a baseline measured in the same run that
only reads the same counters.

The country: a hierarchy of 4 levels (1 national, 63 provinces, 700 upper-level, the rest
grassroots), every unit with a head (email; --webhooks (5%) with a webhook too), a running
campaign (1 March-30 June 2025, counting valid initiatives, the default thresholds) and a
target for every unit, all fed to the notifier's Registry as the registry topic's pydantic
events. The counters are written to Redis as scoring leaves them (totals, by field, author
category, day and week, the backlog by submission day, ranking scores; the levels above sum
their subtrees): at E1's instant --behind (30%) of the grassroots units are behind but not
critical, --critical (10%) critical, --old-backlog (15%) have an initiative under review for
more than 7 days. --silences (25) silences are in force.

  B   Baseline: shared.counters.read_summaries of every unit with a target (four numbers a
      unit, the backlog summed inside Redis, 1,000 units a script call): the read every
      evaluation starts with, as it reads (the cyclic garbage collector paused: see below).
  R   shared.counters.read_units of the same units (every field, parsed): what the evaluation
      read before read_summaries; informational.
  J   The judging alone on what B read (rules.CampaignPace once, then its standing and
      active_rules for every unit); informational.
  E0  The first evaluation on an empty database (20 May 2025, 08:00): every lagging unit's
      alerts become pending (the service's pending time is an hour); alert rows and history.
  E1  An hour later: the pending alerts fire. Alert rows updated, history, one message per
      head rendered (email text and HTML, webhook JSON) and every alert event encoded, all
      stored as deliveries in the same transaction.
  E2  An hour later again: the steady state, little changes.

The evaluator runs with the notifier's shipped settings, on a fresh SQLite file each round
(or --database-url, whose notifier tables are dropped and made again by the migrations each
round), after taking the lease as the service's runner does (not timed). Deliveries are stored,
never sent: this measures the evaluation, not the dispatcher. Each round runs B and J, then
E0-E2, the first of the two swapping every round; the table shows medians, units a second and
the ratio to B. Each step starts after a full garbage collection; the CPU it took is split
between the event-loop thread, the process's other threads (aiosqlite's, where SQLite runs)
and redis-server, with the collector's pauses and full collections counted apart. The
evaluation pauses the cyclic collector while it runs (a country's counters, standings and
alert states are a million containers beside the registry: each full collection walked them
all for about a second, several times an evaluation), so B reads with it paused too.

Aim (from the issue): one evaluation of 150,000 units in under 5 s on this machine; a smaller
run (--quick) is judged on the time 150,000 units would take at its rate. When an evaluation
misses it (--profile), E0-E2 run once more, each under cProfile.

Redis: {env_name("redis_url")} when set (it must be empty: the counters are written into it and
flushed at the end), else a throwaway redis-server without persistence. Results go to
bench/results/notifier.json.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; --quick shrinks the country."""
    parser = argparse.ArgumentParser(
        prog="bench/notifier.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--units", type=int, default=150_000, help="units (150000)")
    parser.add_argument("--quick", action="store_true", help="20,000 units, to try things")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every side (3)")
    parser.add_argument("--behind", type=float, default=0.30, help="grassroots behind (0.30)")
    parser.add_argument("--critical", type=float, default=0.10, help="grassroots critical (0.10)")
    parser.add_argument(
        "--old-backlog",
        type=float,
        default=0.15,
        help="grassroots with an initiative under review more than 7 days (0.15)",
    )
    parser.add_argument("--webhooks", type=float, default=0.05, help="heads with webhooks (0.05)")
    parser.add_argument("--silences", type=int, default=25, help="silences in force (25)")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy async URL of a database to use instead of a SQLite file, e.g. "
        "postgresql+asyncpg://...; its notifier tables are dropped every round",
    )
    parser.add_argument("--aim", type=float, default=5.0, help="seconds an evaluation may take (5)")
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="profile E0-E2: when one misses the aim, always, never (auto)",
    )
    parser.add_argument("--seed", type=int, default=2025, help="seed of the counters (2025)")
    args = parser.parse_args(argv)
    if args.quick:
        args.units = 20_000
    if args.units < 1 + PROVINCES + UPPER_LEVEL + 1:
        parser.error(f"--units must be more than {1 + PROVINCES + UPPER_LEVEL}")
    if args.behind + args.critical > 1:
        parser.error("--behind and --critical add up to more than 1")
    return args


async def run(
    args: argparse.Namespace, console: Console, redis_url: str, workdir: Path
) -> tuple[Context, list[Any], dict[str, Any] | None]:
    """Build the country, run the rounds, maybe the profile."""
    if args.database_url:
        engine = create_engine(args.database_url)
        try:
            found = await notifier_tables(engine)
        finally:
            await engine.dispose()
        if found:
            raise SystemExit(
                f"--database-url already holds {', '.join(found)}: this benchmark drops the "
                "notifier's tables every round; give it an empty database"
            )
    redis = create_redis(redis_url, socket_timeout=60)
    try:
        if await redis.dbsize():
            raise SystemExit(f"{redis_url} is not empty: this benchmark writes and flushes it")
        shares = Shares(args.behind, args.critical, args.old_backlog, args.webhooks)
        country = await build_country(console, redis, args.units, shares, args.seed)
        print_country(console, country, len(country.unit_ids))
        # The registry stays, as in the service; what only the setup needed goes now.
        gc.collect()
        ctx = Context(args, console, redis, country, workdir, args.database_url)
        runs = await measure(ctx)
        summary = summarise(runs, len(country.unit_ids), args.aim)
        profiled = None
        if args.profile == "always" or (args.profile == "auto" and not summary["aim_met"]):
            console.print("profiling E0-E2 on a fresh database")
            profiled = await profile(ctx)
        if args.database_url:
            from notifier_eval.measure import drop_tables

            await drop_tables(args.database_url)
        await redis.flushdb()
        return ctx, runs, profiled
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    """Start Redis, run everything, print, write."""
    args = parse_args(argv)
    # Piped into a log, rich would wrap the tables at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    # The evaluator's info line would land between the progress bars; warnings still show.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    # Read before the run: others may edit the services while it runs; the code imported is this.
    changes, revision = _service_changes(), _git_revision()
    given_redis = os.environ.get(env_name("redis_url"))
    server = None
    with tempfile.TemporaryDirectory(prefix="bench-notifier-") as workdir:
        try:
            if given_redis:
                redis_url = given_redis
                console.print(f"redis: {redis_url} (from {env_name('redis_url')})")
            else:
                from deploy.launcher import start_redis

                server = start_redis(
                    workdir=Path(workdir) / "redis", persistent=False, log=console.print
                )
                redis_url = server.url
            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None)
            with runner:
                ctx, runs, profiled = runner.run(run(args, console, redis_url, Path(workdir)))
        finally:
            if server is not None:
                server.stop()

    if profiled is not None:
        print_profile(console, profiled)
    # The figures last, where a reader looks first.
    units = len(ctx.country.unit_ids)
    summary = summarise(runs, units, args.aim)
    print_report(console, summary, units, args.rounds)
    parameters = {
        "units": units,
        "rounds": args.rounds,
        "shares": {
            "behind": args.behind,
            "critical": args.critical,
            "old_backlog": args.old_backlog,
            "webhooks": args.webhooks,
        },
        "silences": args.silences,
        "database": "given (--database-url)"
        if args.database_url
        else "SQLite file, fresh each round",
        "redis": "given" if given_redis else "throwaway redis-server, no persistence",
        "event_loop": "uvloop" if uvloop else "asyncio",
        "seed": args.seed,
        "git_at_start": revision,
        "uncommitted_changes_under_services_and_shared": changes,
    }
    path = write_results(runs, summary, ctx.country, profiled, parameters)
    console.print(f"results written to {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
