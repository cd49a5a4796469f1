"""BENCHMARKS.md from bench/results/*.json, and the bookkeeping of the run that made them.

`make bench` runs, from the repository root:

    python -m bench.table start                 # a new run; earlier results go to results/previous/
    python -m bench.table run bench/codec.py    # one benchmark; its exit status is recorded
    ...                                         # (a failure is recorded, never fatal: the rest run)
    python -m bench.table write                 # BENCHMARKS.md; exit status 1 if one failed

The table is made from the JSON files alone (the results and the run's record,
bench/results/_run.json), so writing it twice from the same files gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
RUN_FILE = "_run.json"
OUTPUT = ROOT / "BENCHMARKS.md"

COLUMNS = ("figure", "candidate", "baseline", "ratio", "aim", "machine", "revision", "date")


# --- the run's record ----------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def start(results_dir: Path) -> None:
    """Begin a run: earlier results move to results/previous/, so none is taken for this run's."""
    previous = results_dir / "previous"
    found = sorted(results_dir.glob("*.json"))
    if found:
        # Kept, not deleted: a full scoring run takes most of an hour to make again.
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir(parents=True)
        for path in found:
            path.rename(previous / path.name)
    _write_json(results_dir / RUN_FILE, {"started_at": _now(), "benchmarks": []})


def _record(results_dir: Path, entry: dict[str, Any]) -> None:
    """Put ``entry`` in the run's record, in the place of an earlier one of the same benchmark."""
    path = results_dir / RUN_FILE
    run = _read_json(path) if path.exists() else {"started_at": _now(), "benchmarks": []}
    names = [b["name"] for b in run["benchmarks"]]
    if entry["name"] in names:
        run["benchmarks"][names.index(entry["name"])] = entry
    else:
        run["benchmarks"].append(entry)
    _write_json(path, run)


def run(results_dir: Path, script: str, args: list[str]) -> int:
    """Run one benchmark script in this Python, its output shown live; record how it ended."""
    name = Path(script).stem
    command = [script, *args]
    entry: dict[str, Any] = {
        "name": name,
        "command": command,
        "exit_status": None,
        # Other work on these cores skews every figure: say how busy they were.
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    _record(results_dir, entry)  # a run cut short by Ctrl-C stays recorded as unfinished
    print(f"\n=== {' '.join(command)} ===", flush=True)
    started = time.monotonic()
    status = subprocess.run([sys.executable, *command], cwd=ROOT, check=False).returncode
    entry |= {"exit_status": status, "seconds": round(time.monotonic() - started, 1)}
    _record(results_dir, entry)
    print(f"=== {name}: exit status {status} after {entry['seconds']:.0f} s ===", flush=True)
    return status


# --- the table -----------------------------------------------------------------------------


@dataclass
class Table:
    """BENCHMARKS.md's text and the benchmarks that failed in the run."""

    text: str
    failed: list[str]


def load(results_dir: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The results files by benchmark name, and the run's record (None without one)."""
    results = {path.stem: _read_json(path) for path in sorted(results_dir.glob("[!_]*.json"))}
    run_path = results_dir / RUN_FILE
    return results, _read_json(run_path) if run_path.exists() else None


def _number(value: float | None) -> str:
    """Three significant figures or so, with thousands separators."""
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def machine_text(info: dict[str, Any]) -> str:
    """CPU model, cores, memory, OS and Python of a results file's machine."""
    parts = [
        info.get("cpu_model") or "CPU model not recorded",
        f"{info.get('cpu_count', '?')} cores",
    ]
    if info.get("memory_gib") is not None:
        parts.append(f"{info['memory_gib']:g} GiB RAM")
    parts.append(info.get("os") or info.get("platform") or "OS not recorded")
    parts.append(f"Python {info.get('python', '?')}")
    return ", ".join(parts)


def _machine_of(info: dict[str, Any]) -> str:
    # The load before a run is the run's, not the machine's.
    return machine_text({k: v for k, v in info.items() if k != "load_average_before"})


def _date(stamp: str | None) -> str:
    if not stamp:
        return "–"
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _aims(line: dict[str, Any]) -> str:
    return (
        "; ".join(f"{aim['text']}: {'met' if aim['met'] else '**missed**'}" for aim in line["aims"])
        or "–"
    )


def _row(line: dict[str, Any], document: dict[str, Any], machine_key: str, mark: str) -> str:
    unit, baseline = line["unit"], line["baseline"]
    figure = line["figure"] + (" (lower is better)" if line["better"] == "lower" else "")
    ratio = "–" if line["ratio"] is None else f"{line['ratio']:.2f}×"
    cells = [
        figure + mark,
        f"{_number(line['candidate'])} {unit}",
        "–" if baseline is None else f"{_number(baseline['value'])} {unit}: {baseline['name']}",
        ratio,
        _aims(line),
        machine_key,
        document.get("git") or "–",
        _date(document.get("measured_at")),
    ]
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _problem_row(name: str, what: str, stamp: str | None) -> str:
    cells = [f"**{name}: {what}**", "–", "–", "–", "–", "–", "–", _date(stamp)]
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _is_fresh(document: dict[str, Any], run: dict[str, Any] | None) -> bool:
    if run is None:
        return True
    measured = datetime.fromisoformat(document["measured_at"])
    return measured >= datetime.fromisoformat(run["started_at"])


def _problem(
    entry: dict[str, Any] | None, document: dict[str, Any] | None, fresh: bool
) -> str | None:
    """What went wrong with a benchmark of the run, or None."""
    failed_checks = [name for name, ok in (document or {}).get("checks", {}).items() if not ok]
    checks = f"; check failed: {'; '.join(failed_checks)}" if failed_checks and fresh else ""
    if entry is None:
        return checks[2:] or None  # not part of a recorded run: its file is shown, dated
    status = entry["exit_status"]
    if status is None:
        return "did not finish"
    if status != 0:
        failed = "failed, " if status > 0 else ""
        written = " (after writing the figures below)" if fresh else ""
        return failed + _ending(status) + written + checks
    return (checks[2:] or None) if fresh else "wrote no results in this run"


def _ending(status: int | None) -> str:
    """How a benchmark's process ended, from its exit status."""
    if status is None:
        return "did not finish"
    if status < 0:  # subprocess's way of saying a signal ended it
        return f"stopped by {signal.Signals(-status).name}"
    return f"exit status {status}"


def render(results: dict[str, Any], run: dict[str, Any] | None) -> Table:
    """BENCHMARKS.md: the header, one row per headline figure or failed benchmark, the key."""
    entries = {entry["name"]: entry for entry in (run or {}).get("benchmarks", [])}
    # The run's order (the Makefile's), then any other results file by name.
    names = list(entries) + sorted(name for name in results if name not in entries)
    machines: dict[str, str] = {}
    rows, failed, rounds = [], [], {}
    for name in names:
        entry, document = entries.get(name), results.get(name)
        fresh = document is not None and _is_fresh(document, run)
        problem = _problem(entry, document, fresh)
        if problem is not None:
            failed.append(name)
            rows.append(_problem_row(name, problem, run["started_at"] if run else None))
        # A failed benchmark's old figures would pass for this run's: left out.
        if document is None or (entry is not None and entry["exit_status"] != 0 and not fresh):
            continue
        lines = document.get("headlines")
        if not lines:
            rows.append(_problem_row(name, "no headline figures in its results file", None))
            continue
        mark = "" if fresh else " — **stale: measured before this run**"
        key = machines.setdefault(_machine_of(document["machine"]), f"m{len(machines) + 1}")
        rounds[name] = sorted({line["rounds"] for line in lines})
        rows.extend(_row(line, document, key, mark) for line in lines)
    return Table(_document(rows, machines, rounds, run), failed)


def _document(
    rows: list[str], machines: dict[str, str], rounds: dict[str, list[int]], run: Any
) -> str:
    medians = ", ".join(f"{name} {'/'.join(map(str, counts))}" for name, counts in rounds.items())
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.table write`) from `bench/results/*.json`; do",
        "not edit it by hand, run `make bench` again. What each benchmark measures, and how to",
        "run it alone or at full size: [bench/README.md](bench/README.md).",
        "",
        f"Every figure is the median of its benchmark's interleaved rounds ({medians or 'none'});",
        "latency percentiles are taken over every round's requests. The machine is noisy (its",
        "cores are shared with other work: see the load average before each benchmark), so",
        "absolute figures move between runs. Each baseline was measured in the same run as its",
        "candidate: **compare ratios** (candidate / baseline), not absolute figures. Higher is",
        "better unless the row says lower. A run smaller than the issue's (`--quick`) is judged",
        "on the aims at the rate it measured.",
        "",
    ]
    if run is not None:
        header += [f"Run started {_date(run['started_at'])}, one command after the other:", ""]
        header += [_command_line(entry) for entry in run["benchmarks"]] + [""]
    table = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *rows,
    ]
    key = ["", "Machines:", ""] + [f"- {k}: {text}" for text, k in machines.items()]
    return "\n".join(header + table + key) + "\n"


def _command_line(entry: dict[str, Any]) -> str:
    """One benchmark's command, how it ended, how long it took and the load before it."""
    ended = _ending(entry["exit_status"])
    took = f", {entry['seconds']:.0f} s" if "seconds" in entry else ""
    load = entry.get("load_average_before")
    busy = "" if load is None else f", load average {load:.1f} before it"
    return f"- `{' '.join(entry['command'])}`: {ended}{took}{busy}"


def write(results_dir: Path, output: Path) -> Table:
    """Write ``output`` from the results; return the table (its failures too)."""
    table = render(*load(results_dir))
    output.write_text(table.text, encoding="utf-8")
    return table


# --- the command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """start, run SCRIPT [ARGS...], or write (the default)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.table", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="results folder")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("start", help="begin a run: earlier results move to results/previous/")
    one = commands.add_parser("run", help="run one benchmark script, record its exit status")
    one.add_argument("script", help="bench/<name>.py")
    one.add_argument("args", nargs=argparse.REMAINDER, help="its options")
    table = commands.add_parser("write", help="write the table (the default command)")
    table.add_argument("--output", type=Path, default=OUTPUT, help="BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.command == "start":
        start(args.results)
    elif args.command == "run":
        run(args.results, args.script, args.args)  # a failure is in the table, not fatal here
    else:
        output = getattr(args, "output", OUTPUT)
        written = write(args.results, output)
        print(f"{output.relative_to(ROOT) if output.is_relative_to(ROOT) else output} written")
        if written.failed:
            print(f"failed: {', '.join(written.failed)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
