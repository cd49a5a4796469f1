"""Where the time goes: a replay by the consumer under cProfile, and its tables."""

from __future__ import annotations

import cProfile
import pstats
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .cpu import Meter
from .measure import Context, replay
from .registry import redis_commands, reset_redis

TOP_ENTRIES = 18
PROFILED_CODE = ("services/", "shared/", "aiokafka", "redis/", "pydantic", "json")


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
        "top_cumulative": top_entries(stats, seconds, "cumulative"),
        "top_self": top_entries(stats, seconds, "self"),
        "self_by_package": _self_by_package(stats),
    }


def _where(key: tuple[str, int, str]) -> str:
    """``file:line(function)``, the file relative to the repository or site-packages."""
    filename, line, function = key
    root = f"{Path(__file__).resolve().parents[2]}/"
    for marker in ("/site-packages/", root, "/lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({function})" if line else function


def top_entries(
    stats: pstats.Stats,
    seconds: float,
    by: str,
    *,
    code: tuple[str, ...] = PROFILED_CODE,
    limit: int = TOP_ENTRIES,
) -> list[dict[str, Any]]:
    """The largest cumulative times of the functions in ``code`` (the project's and its
    libraries'), or the largest self times of all."""
    rows = []
    for key, (_, calls, self_s, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if by == "cumulative" and not any(part in key[0] for part in code):
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
        for key, calls, self_s, cumulative in rows[:limit]
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
