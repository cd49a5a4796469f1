"""BENCHMARKS.md: one row per headline figure, failures said, every benchmark run by make bench."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
# Modules of bench/ that measure nothing: everything else there is a benchmark.
TOOLS = {"_common.py", "table.py"}


def _load(name: str) -> ModuleType:
    # bench/ is run as scripts, not installed: load its modules by path.
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


table = _load("table")
common = _load("_common")

MACHINE = {
    "cpu_model": "AMD EPYC",
    "cpu_count": 2,
    "memory_gib": 23.5,
    "os": "Debian GNU/Linux 12 (bookworm)",
    "python": "3.11.7",
}
STARTED = "2026-11-26T04:00:00+00:00"
DURING = "2026-11-26T04:05:00+00:00"
BEFORE = "2026-11-25T18:00:00+00:00"


def _results(
    tmp_path: Path,
    name: str,
    headlines: list[dict[str, Any]],
    at: str = DURING,
    checks: dict[str, bool] | None = None,
) -> None:
    document = {
        "benchmark": name,
        "measured_at": at,
        "git": "abc1234",
        "machine": MACHINE,
        "headlines": headlines,
        "checks": checks or {},
    }
    (tmp_path / f"{name}.json").write_text(json.dumps(document))


def _run(tmp_path: Path, **statuses: int | None) -> None:
    benchmarks = [
        {"name": name, "command": [f"bench/{name}.py"], "exit_status": status, "seconds": 1.0}
        for name, status in statuses.items()
    ]
    (tmp_path / table.RUN_FILE).write_text(
        json.dumps({"started_at": STARTED, "benchmarks": benchmarks})
    )


def _rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0] == "| " + " | ".join(table.COLUMNS) + " |"
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def _codec() -> list[dict[str, Any]]:
    return [
        common.headline(
            "codec: encode",
            "events/s",
            candidate=50_000.0,
            baseline_name="json",
            baseline=100_000.0,
            rounds=3,
        ),
        common.headline(
            "codec: decode",
            "events/s",
            candidate=30_000.0,
            baseline_name="json",
            baseline=120_000.0,
            rounds=3,
        ),
    ]


def _notifier(seconds: float, met: bool) -> list[dict[str, Any]]:
    return [
        common.headline(
            "notifier: one evaluation (E2)",
            "s",
            candidate=seconds,
            baseline_name="B",
            baseline=2.0,
            rounds=3,
            better="lower",
            aims=[common.Aim("150,000 units in < 5 s", met)],
        )
    ]


def test_one_row_per_headline_with_its_ratio_and_aim_verdict(tmp_path: Path) -> None:
    _results(tmp_path, "codec", _codec())
    _results(tmp_path, "notifier", _notifier(7.0, met=False))
    _run(tmp_path, codec=0, notifier=0)

    written = table.render(*table.load(tmp_path))

    rows = {row[0]: row for row in _rows(written.text)}
    assert list(rows) == [
        "codec: encode",
        "codec: decode",
        "notifier: one evaluation (E2) (lower is better)",
    ]
    assert rows["codec: encode"][3] == "0.50×"
    assert rows["codec: decode"][3] == "0.25×"
    assert rows["codec: encode"][4] == "–"
    notifier = rows["notifier: one evaluation (E2) (lower is better)"]
    assert notifier[1:4] == ["7.00 s", "2.00 s: B", "3.50×"]
    assert notifier[4] == "150,000 units in < 5 s: **missed**"
    assert notifier[5:7] == ["m1", "abc1234"]
    assert "- m1: AMD EPYC, 2 cores, 23.5 GiB RAM, Debian GNU/Linux 12" in written.text
    assert written.failed == []


def test_a_met_aim_says_met(tmp_path: Path) -> None:
    _results(tmp_path, "notifier", _notifier(4.0, met=True))

    (row,) = _rows(table.render(*table.load(tmp_path)).text)

    assert row[4] == "150,000 units in < 5 s: met"


def test_a_failed_benchmark_is_reported_and_its_old_figures_left_out(tmp_path: Path) -> None:
    _results(tmp_path, "codec", _codec())
    _results(tmp_path, "notifier", _notifier(4.0, met=True), at=BEFORE)
    _run(tmp_path, codec=0, notifier=1)

    written = table.render(*table.load(tmp_path))

    figures = [row[0] for row in _rows(written.text)]
    assert figures == ["codec: encode", "codec: decode", "**notifier: failed, exit status 1**"]
    assert written.failed == ["notifier"]


def test_a_failed_check_is_named_beside_the_figures(tmp_path: Path) -> None:
    checks = {"offsets = registrations (sqlite)": False, "offsets = registrations (pg)": True}
    _results(tmp_path, "codec", _codec(), checks=checks)
    _run(tmp_path, codec=1)

    written = table.render(*table.load(tmp_path))

    assert [row[0] for row in _rows(written.text)] == [
        "**codec: failed, exit status 1 (after writing the figures below); check failed: "
        "offsets = registrations (sqlite)**",
        "codec: encode",
        "codec: decode",
    ]
    assert written.failed == ["codec"]


def test_a_benchmark_cut_short_or_silent_is_reported(tmp_path: Path) -> None:
    _run(tmp_path, scoring=None, producer=0)

    written = table.render(*table.load(tmp_path))

    figures = [row[0] for row in _rows(written.text)]
    assert figures == ["**scoring: did not finish**", "**producer: wrote no results in this run**"]
    assert written.failed == ["scoring", "producer"]


def test_a_benchmark_stopped_by_a_signal_says_which(tmp_path: Path) -> None:
    _run(tmp_path, scoring=-2)

    written = table.render(*table.load(tmp_path))

    assert [row[0] for row in _rows(written.text)] == ["**scoring: stopped by SIGINT**"]
    assert "- `bench/scoring.py`: stopped by SIGINT, 1 s" in written.text
    assert written.failed == ["scoring"]


def test_results_older_than_the_run_are_marked_stale(tmp_path: Path) -> None:
    _results(tmp_path, "notifier", _notifier(4.0, met=True), at=BEFORE)
    _run(tmp_path, codec=0)
    _results(tmp_path, "codec", _codec())

    rows = _rows(table.render(*table.load(tmp_path)).text)

    assert [row[0] for row in rows if "stale" in row[0]] == [
        "notifier: one evaluation (E2) (lower is better) — **stale: measured before this run**"
    ]


def test_the_table_depends_on_the_json_files_alone(tmp_path: Path) -> None:
    _results(tmp_path, "codec", _codec())
    _run(tmp_path, codec=0)
    first, second = tmp_path / "first.md", tmp_path / "second.md"

    table.write(tmp_path, first)
    table.write(tmp_path, second)

    assert first.read_bytes() == second.read_bytes()


def test_start_moves_earlier_results_aside(tmp_path: Path) -> None:
    _results(tmp_path, "codec", _codec(), at=BEFORE)

    table.start(tmp_path)

    assert [path.name for path in tmp_path.glob("*.json")] == [table.RUN_FILE]
    assert (tmp_path / "previous" / "codec.json").exists()


def test_a_failing_benchmark_is_recorded_without_stopping_the_run(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit(3)\n")
    table.start(tmp_path)

    status = table.main(["--results", str(tmp_path), "run", str(script), "--quick"])

    run = json.loads((tmp_path / table.RUN_FILE).read_text())
    assert status == 0
    assert run["benchmarks"][0]["exit_status"] == 3
    assert run["benchmarks"][0]["command"] == [str(script), "--quick"]


def test_running_a_benchmark_again_replaces_its_record_in_place(tmp_path: Path) -> None:
    scripts = {}
    for name, code in (("first", 1), ("second", 0)):
        scripts[name] = tmp_path / f"{name}.py"
        scripts[name].write_text(f"raise SystemExit({code})\n")
    table.start(tmp_path)
    for name in ("first", "second"):
        table.run(tmp_path, str(scripts[name]), [])
    scripts["first"].write_text("")

    table.run(tmp_path, str(scripts["first"]), [])

    run = json.loads((tmp_path / table.RUN_FILE).read_text())
    assert [(b["name"], b["exit_status"]) for b in run["benchmarks"]] == [
        ("first", 0),
        ("second", 0),
    ]


def test_writing_the_table_fails_when_a_benchmark_failed(tmp_path: Path) -> None:
    _run(tmp_path, codec=1)

    status = table.main(["--results", str(tmp_path), "write", "--output", str(tmp_path / "B.md")])

    assert status == 1
    assert "**codec: failed, exit status 1**" in (tmp_path / "B.md").read_text()


def _bench_recipe() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^bench:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert match, "the Makefile has a bench target"
    return match.group(1).splitlines()


def test_make_bench_runs_every_benchmark_in_bench() -> None:
    benchmarks = {path.name for path in BENCH.glob("*.py")} - TOOLS
    recipe = _bench_recipe()

    run = {m for line in recipe for m in re.findall(r"\brun bench/(\w+\.py)", line)}

    assert benchmarks, "bench/ holds benchmarks"
    assert run == benchmarks
    assert recipe[0].endswith("start")
    assert recipe[-1].endswith("write")


def test_the_readme_links_the_table() -> None:
    assert "](BENCHMARKS.md)" in (ROOT / "README.md").read_text()


def test_the_bench_readme_links_the_table() -> None:
    assert "](../BENCHMARKS.md)" in (BENCH / "README.md").read_text()


def test_benchmarks_md_is_the_table_of_record() -> None:
    text = (ROOT / "BENCHMARKS.md").read_text()

    assert text.startswith("# Benchmarks\n")
    assert _rows(text), "BENCHMARKS.md has figures"
