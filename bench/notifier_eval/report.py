"""The tables and bench/results/notifier.json."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .base import Aim, headline, machine
from .base import write_results as write_results_file
from .measure import SIDES, Run
from .world import Country

COUNTRY_UNITS = 150_000
WHAT = {
    "B": "baseline: read_summaries of every unit with a target (the evaluation's read: four "
    "numbers a unit, summed in Redis)",
    "R": "read_units of the same units: every field parsed (info: the read before)",
    "J": "the judging alone on B's counters: CampaignPace.standing, active_rules (info)",
    "E0": "first evaluation: every lagging unit's alerts become pending (rows inserted)",
    "E1": "an hour later: pending alerts fire (history, deliveries rendered and stored)",
    "E2": "an hour later again: steady state, little changes",
}
CANDIDATES = ("E0", "E1", "E2")


def _median(runs: list[Run], side: str, key: str = "seconds") -> float:
    return statistics.median(getattr(run, key) for run in runs if run.side == side)


def summarise(runs: list[Run], units: int, aim_seconds: float) -> dict[str, Any]:
    """Medians, ratios to B, and the aim judged at the whole country's size."""
    base = _median(runs, "B")
    sides: dict[str, Any] = {}
    for side in SIDES:
        seconds = _median(runs, side)
        country = seconds * COUNTRY_UNITS / units  # linear in units: one pass over them
        sides[side] = {
            "median_seconds": seconds,
            "rounds_seconds": [run.seconds for run in runs if run.side == side],
            "units_per_second": units / seconds,
            "ratio_to_B": seconds / base,
            "seconds_for_150000_units": country,
            "aim_met": country < aim_seconds if side in CANDIDATES else None,
            "cpu_seconds_median": {
                name: statistics.median(run.cpu[name] for run in runs if run.side == side)
                for name in next(run for run in runs if run.side == side).cpu
            },
        }
    written = {side: next(run.written for run in runs if run.side == side) for side in CANDIDATES}
    evaluations = {
        side: next(run.evaluation for run in runs if run.side == side) for side in CANDIDATES
    }
    return {
        "sides": sides,
        "written": written,
        "evaluations": evaluations,
        "aim_seconds": aim_seconds,
        "aim_met": all(sides[side]["aim_met"] for side in CANDIDATES),
    }


def print_country(console: Console, country: Country, units: int) -> None:
    """What was built, and how the units stand at E1's instant."""
    levels = ", ".join(f"{n:,} {level}" for level, n in country.levels.most_common())
    statuses = ", ".join(
        f"{n:,} {status} ({n / units:.0%})" for status, n in country.statuses.most_common()
    )
    console.print(
        f"{units:,} units ({levels}), every one with a target and a head with email "
        f"({country.webhooks:,} with a webhook too)\n"
        f"at E1's instant: {statuses}; {country.old_backlog:,} with initiatives under review "
        f"for more than 7 days\n"
        f"counters: {country.fields_per_hash:.1f} fields a hash on average, Redis using "
        f"{country.redis_bytes / 2**20:,.0f} MB; "
        + ", ".join(f"{name} {s:.1f} s" for name, s in country.seconds.items())
    )


def print_report(console: Console, summary: dict[str, Any], units: int, rounds: int) -> None:
    """The figures, what each evaluation wrote, where the CPU went, the aim."""
    scaled = units != COUNTRY_UNITS
    table = Table(
        title=f"One evaluation of {units:,} units (median of {rounds} interleaved rounds)",
        caption="ratio: seconds / B's seconds (lower is better)",
    )
    table.add_column("side")
    table.add_column("what")
    table.add_column("s", justify="right")
    table.add_column("units/s", justify="right")
    table.add_column("× B", justify="right", style="bold")
    if scaled:
        table.add_column("s at 150,000", justify="right")
    table.add_column(f"< {summary['aim_seconds']:g} s", justify="center")
    for side in SIDES:
        found = summary["sides"][side]
        met = found["aim_met"]
        row = [
            side,
            WHAT[side],
            f"{found['median_seconds']:.2f}",
            f"{found['units_per_second']:,.0f}",
            f"{found['ratio_to_B']:.2f}",
        ]
        if scaled:
            row.append(f"{found['seconds_for_150000_units']:.1f}")
        row.append("" if met is None else "[green]yes[/green]" if met else "[red]no[/red]")
        table.add_row(*row)
    console.print(table)
    _print_writes(console, summary)
    _print_cpu(console, summary)
    judged = " (judged on the time 150,000 units would take at the rate measured)" if scaled else ""
    sides = summary["sides"]
    # The "one evaluation" is the one that runs every interval (E2); E0 and E1 come
    # once a campaign, when its grace period ends, and are shown beside it.
    for side, what in (("E2", "the regular evaluation"), ("E0", "the first"), ("E1", "the burst")):
        verdict = "met" if sides[side]["aim_met"] else "missed"
        console.print(
            f"aim, {what} ({side}) of the whole country under {summary['aim_seconds']:g} s: "
            f"[bold]{verdict}[/bold]{judged}"
        )


def _print_writes(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title="What each evaluation wrote (round 1; every round writes the same)")
    table.add_column("side")
    names = sorted({name for written in summary["written"].values() for name in written})
    for name in ("changes", "messages", "firing", *names):
        table.add_column(name, justify="right")
    for side in CANDIDATES:
        evaluation, written = summary["evaluations"][side], summary["written"][side]
        table.add_row(
            side,
            f"{evaluation['changes']:,}",
            f"{evaluation['messages']:,}",
            f"{evaluation['firing']:,}",
            *(f"{written.get(name, 0):,}" for name in names),
        )
    console.print(table)


def _print_cpu(console: Console, summary: dict[str, Any]) -> None:
    table = Table(
        title="CPU seconds by where they were spent (medians)",
        caption="other threads: aiosqlite runs SQLite in a thread of its own (PostgreSQL's "
        "own CPU, in its processes, is not counted); gc pauses are part of the loop's time",
    )
    table.add_column("side")
    table.add_column("wall", justify="right")
    names = list(summary["sides"]["B"]["cpu_seconds_median"])
    for name in names:
        table.add_column(name, justify="right")
    for side in SIDES:
        found = summary["sides"][side]
        table.add_row(
            side,
            f"{found['median_seconds']:.2f}",
            *(
                f"{found['cpu_seconds_median'][name]:.{0 if '(count)' in name else 2}f}"
                for name in names
            ),
        )
    console.print(table)
    console.print(
        f"machine: {machine()['cpu_count']} CPUs, Python {machine()['python']}, "
        f"{machine()['platform']}"
    )


def write_results(
    runs: list[Run],
    summary: dict[str, Any],
    country: Country,
    profiled: dict[str, Any] | None,
    parameters: dict[str, Any],
) -> Path:
    """bench/results/notifier.json: every run, the medians, the aim, the profile."""
    document = {
        "parameters": parameters,
        "country": {
            "levels": dict(country.levels),
            "statuses_at_E1": dict(country.statuses),
            "old_backlog_units": country.old_backlog,
            "webhook_heads": country.webhooks,
            "fields_per_hash": country.fields_per_hash,
            "redis_used_memory_bytes": country.redis_bytes,
            "setup_seconds": country.seconds,
        },
        "what": WHAT,
        "summary": summary,
        "runs": [vars(run) for run in runs],
        "profile": profiled,
    }
    return write_results_file(
        "notifier",
        headlines=headlines(summary, len(country.unit_ids), parameters["rounds"]),
        document=document,
        git=parameters["git_at_start"],
    )


def headlines(summary: dict[str, Any], units: int, rounds: int) -> list[dict[str, Any]]:
    """E2, E0 and E1 against B, each judged on the aim, for BENCHMARKS.md."""
    scaled = "" if units == COUNTRY_UNITS else " at this rate"
    lines = []
    # The regular evaluation first: the aim is about it; the first and the burst come once.
    for side, what in (("E2", "steady state"), ("E0", "first"), ("E1", "burst of alerts")):
        found = summary["sides"][side]
        lines.append(
            headline(
                f"notifier: one evaluation of {units:,} units, {what} ({side})",
                "s",
                candidate=found["median_seconds"],
                baseline_name="B: read_summaries of the same units",
                baseline=summary["sides"]["B"]["median_seconds"],
                ratio=found["ratio_to_B"],
                rounds=rounds,
                better="lower",
                aims=[
                    Aim(
                        f"{COUNTRY_UNITS:,} units in < {summary['aim_seconds']:g} s "
                        f"({found['seconds_for_150000_units']:.1f} s{scaled})",
                        bool(found["aim_met"]),
                    )
                ],
            )
        )
    return lines
