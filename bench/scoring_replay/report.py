"""The report: medians, ratios and aims of the runs, printed as tables and written as JSON."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .base import RESULTS_DIR, Aim, headline, machine
from .base import write_results as write_results_file
from .measure import Context, Run
from .queries import MAX_OUTSTANDING, percentile
from .registry import SLOW_CALL_US

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
    query = _pooled_queries(runs, "CQ")
    live = _pooled_queries(runs, "L")
    alone = _pooled_queries(runs, "Q0")
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
        aims["queries_met"] = _query_aim_met(query)
    if live is not None:
        aims["queries_live_met"] = _query_aim_met(live)
        if alone is not None:
            live["p99_ratio_to_alone"] = live["p99_ms"] / alone["p99_ms"]
    return {
        "sides": sides,
        "slower_baseline": slower,
        "queries": query,
        "queries_live": live,
        "queries_alone": alone,
        "aims": aims,
    }


def _pooled_queries(runs: list[Run], side: str) -> dict[str, Any] | None:
    """The queries of every run of ``side`` pooled: rates, percentiles, errors."""
    found = [(run, run.queries) for run in runs if run.side == side and run.queries is not None]
    if not found:
        return None
    queries = [q for _, q in found]
    latencies = [ms for q in queries for ms in q.latencies_ms]
    answered = len(latencies)
    server_cpu = [run.cpu.get("query server") for run, _ in found]
    return {
        "rate_median": statistics.median(q.rate for q in queries),
        "rates": [q.rate for q in queries],
        "sent": sum(q.sent for q in queries),
        "shed": sum(q.shed for q in queries),
        "answered": answered,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=math.nan),
        "p99_ms_per_run": [percentile(q.latencies_ms, 0.99) for q in queries],
        "server_cpu_us_per_query": (
            sum(server_cpu) / answered * 1e6  # type: ignore[arg-type]
            if answered and None not in server_cpu
            else None
        ),
        "errors": dict(sum((Counter(q.errors) for q in queries), Counter())),
    }


def _query_aim_met(query: dict[str, Any]) -> bool:
    return bool(
        query["rate_median"] >= 0.99 * AIM_QUERY_RATE
        and query["p99_ms"] < AIM_QUERY_P99_MS
        and not query["errors"]
    )


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
    _print_query_table(console, ctx, runs, summary)
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
            f"ingest at full speed (CQ): {query['rate_median']:,.0f}/s, p99 "
            f"{query['p99_ms']:.1f} ms {_verdict(aims['queries_met'])}"
        )
    live = summary["queries_live"]
    if live is not None:
        console.print(
            f"aim, queries: {AIM_QUERY_RATE:,.0f}/s with p99 < {AIM_QUERY_P99_MS:.0f} ms during "
            f"live ingest at {args.live_rate:,.0f} events/s (L): {live['rate_median']:,.0f}/s, "
            f"p99 {live['p99_ms']:.1f} ms {_verdict(aims['queries_live_met'])}"
        )
    checks = [run.check for run in runs if run.check is not None and run.side in SIDES]
    bad = [check for check in checks if not check["ok"]]
    console.print(
        f"check: root registered + withdrawn = {checks[0]['registered_plus_withdrawn']:,}, "
        f"submissions {checks[0]['submissions']:,}; every root counter as the events imply "
        f"after {len(checks) - len(bad)} of {len(checks)} R, C and CQ runs"
        + ("" if not bad else " [red]MISMATCH[/red]")
    )
    info = machine()
    console.print(f"machine: {info['cpu_count']} CPUs, Python {info['python']}, {info['platform']}")


def _print_query_table(
    console: Console, ctx: Context, runs: list[Run], summary: dict[str, Any]
) -> None:
    """Queries under each kind of ingest: full-speed replay, live stream, none."""
    rows = [
        ("CQ: during the full-speed replay", summary["queries"]),
        (f"L: during live ingest at {ctx.args.live_rate:,.0f} events/s", summary["queries_live"]),
        ("Q0: no ingest (baseline of L)", summary["queries_alone"]),
    ]
    rows = [(name, q) for name, q in rows if q is not None]
    if not rows:
        return
    table = Table(
        title=f"Progress queries at {ctx.args.query_rate:,.0f}/s offered",
        caption="pooled over the runs of each side; shed: not sent, "
        f"{MAX_OUTSTANDING} already waiting",
    )
    for column in ("while", "answered/s", "p50 ms", "p99 ms", "max ms", "shed", "server µs/q"):
        table.add_column(column, justify="left" if column == "while" else "right")
    for name, q in rows:
        cpu = q["server_cpu_us_per_query"]
        table.add_row(
            name,
            f"{q['rate_median']:,.0f}",
            f"{q['p50_ms']:.1f}",
            f"{q['p99_ms']:.1f}",
            f"{q['max_ms']:.0f}",
            f"{q['shed']:,}",
            "–" if cpu is None else f"{cpu:,.0f}",
        )
    console.print(table)
    lives = [run for run in runs if run.side == "L" and run.check is not None]
    if lives:
        lags = [run.check["catch_up_seconds_after_last_publish"] for run in lives]
        live = summary["queries_live"]
        ratio = live.get("p99_ratio_to_alone")
        console.print(
            f"L: {lives[0].events:,} events a run published at {ctx.args.live_rate:,.0f}/s; the "
            f"consumer had committed the last of them {statistics.median(lags):.2f} s after it "
            f"was sent (median of {len(lags)}); p99 with live ingest / p99 alone: "
            + ("–" if ratio is None else f"{ratio:.2f}×")
        )


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
    document = {
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
    return write_results_file(
        "scoring",
        headlines=headlines(ctx, summary),
        document=_finite(document),
        git=parameters["git_at_start"],
        checks={
            "the root's counters equal what the events imply after every R, C and CQ run": all(
                run.check["ok"] for run in runs if run.check is not None
            )
        },
    )


def headlines(ctx: Context, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates' rates and the queries' p99s, with the issue's aims, for BENCHMARKS.md."""
    args, sides, aims = ctx.args, summary["sides"], summary["aims"]
    scaled = "" if aims["million_seconds_measured"] else " at this rate"
    lines = []
    for side in CANDIDATES:
        if side not in aims:
            continue
        a = aims[side]
        lines.append(
            headline(
                f"scoring: {SIDE_NAMES[side]}, {args.events:,} events, {len(ctx.units):,} units",
                "events/s",
                candidate=sides[side]["rate_median"],
                baseline_name="min(K, R): the slower of Kafka's read and Redis's steps",
                baseline=summary["slower_baseline"],
                rounds=len(sides[side]["rates"]),
                aims=[
                    Aim(f"≥ {AIM_RATIO:.2f}× the baseline", a["ratio_met"]),
                    Aim(
                        f"1,000,000 events in < {AIM_SECONDS_PER_MILLION:.0f} s "
                        f"({a['million_seconds']:.0f} s{scaled})",
                        a["million_met"],
                    ),
                ],
            )
        )
    alone = summary["queries_alone"]
    for query, met, what in (
        (summary["queries"], aims.get("queries_met"), "during the replay (CQ)"),
        (
            summary["queries_live"],
            aims.get("queries_live_met"),
            f"during live ingest at {args.live_rate:,.0f} events/s (L)",
        ),
    ):
        if query is None:
            continue
        lines.append(
            headline(
                f"scoring: progress queries' p99 {what}, {args.query_rate:,.0f}/s offered",
                "ms",
                candidate=query["p99_ms"],
                baseline_name="Q0: the same queries, nothing ingesting",
                baseline=None if alone is None else alone["p99_ms"],
                rounds=len(query["rates"]),
                better="lower",
                aims=[
                    Aim(
                        f"{AIM_QUERY_RATE:,.0f}/s with p99 < {AIM_QUERY_P99_MS:.0f} ms "
                        f"({query['rate_median']:,.0f}/s answered)",
                        bool(met),
                    )
                ],
            )
        )
    return lines


def _finite(value: Any) -> Any:
    """``value`` with NaN (a percentile of nothing) as null: NaN is not JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value
