"""Where the time goes: E0, E1 and E2 once more on a fresh database, each under cProfile."""

from __future__ import annotations

import cProfile
import functools
import pstats
import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table
from scoring_replay.profiling import top_entries

from .measure import EVALUATIONS, Context, fresh_database, make_evaluator, take_lease

TOP_ENTRIES = 16
PROFILED_CODE = ("services/", "shared/", "sqlalchemy", "sqlmodel", "redis/", "jinja2", "pydantic")
top = functools.partial(top_entries, code=PROFILED_CODE, limit=TOP_ENTRIES)
PACKAGES = (
    ("/services/", "project: services"),
    ("/shared/", "project: shared"),
    ("sqlmodel", "sqlmodel"),
    ("sqlalchemy", "sqlalchemy"),
    ("aiosqlite", "aiosqlite"),
    ("/redis/", "redis-py"),
    ("hiredis", "redis-py"),
    ("jinja2", "jinja2"),
    ("pydantic", "pydantic"),
    ("greenlet", "greenlet"),
    ("asyncio", "asyncio"),
    ("uvloop", "uvloop"),
)


async def profile(ctx: Context) -> dict[str, Any]:
    """Each evaluation's wall time under the profiler and its top entries."""
    found: dict[str, Any] = {}
    async with fresh_database(ctx, "profiled") as database:
        evaluator = make_evaluator(ctx, database)
        for side, at in EVALUATIONS:
            await take_lease(database)
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            await evaluator.evaluate(at)
            profiler.disable()
            seconds = time.perf_counter() - started
            stats = pstats.Stats(profiler)
            found[side] = {
                "seconds_under_profiler": seconds,
                "top_cumulative": top(stats, seconds, "cumulative"),
                "top_self": top(stats, seconds, "self"),
                "self_by_package": _by_package(stats),
            }
    return found


def _by_package(stats: pstats.Stats) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for (filename, _, function), (_, _, self_s, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        name = next(
            (name for marker, name in PACKAGES if marker in filename or marker in function),
            "builtins and other" if filename == "~" else "other",
        )
        totals[name] += self_s
    return dict(totals.most_common())


def print_profile(console: Console, found: dict[str, Any]) -> None:
    """Each evaluation's top cumulative entries, and self time by package."""
    for side, entry in found.items():
        seconds = entry["seconds_under_profiler"]
        table = Table(
            title=f"cProfile: {side}, {seconds:.1f} s under the profiler: top cumulative "
            "(project, SQLAlchemy, SQLModel, redis-py, Jinja2, pydantic)",
            caption="the event-loop thread only: SQLite's own work runs in aiosqlite's thread; "
            "greenlet switches blur some cumulative times",
        )
        table.add_column("s", justify="right")
        table.add_column("share", justify="right")
        table.add_column("calls", justify="right")
        table.add_column("function")
        for row in entry["top_cumulative"]:
            table.add_row(
                f"{row['cumulative_s']:.2f}",
                f"{row['share_of_wall']:.0%}",
                f"{row['calls']:,}",
                row["function"],
            )
        console.print(table)
        console.print(
            f"{side} self time by package: "
            + ", ".join(
                f"{name} {value:.1f} s ({value / seconds:.0%})"
                for name, value in entry["self_by_package"].items()
                if value >= 0.01 * seconds
            )
        )
