"""What the benchmarks share: realistic events, interleaved rounds, the table and the JSON file.

Every results file carries ``headlines``: one uniform record per headline figure (candidate,
baseline, ratio, aims), made by :func:`headline` and written by :func:`write_results`, from
which ``bench/table.py`` builds BENCHMARKS.md without knowing any benchmark's own layout.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import statistics
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

from shared.events import (
    AuthorCategory,
    AuthorRef,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    RecognisedBy,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BASELINE = "baseline"
CANDIDATE = "candidate"

ICT = timezone(timedelta(hours=7))
CAMPAIGN = "mot-trieu-sang-kien-2025"
ROOT = "tong-ldld-vn"
PROVINCES = ("ha-noi", "hai-phong", "da-nang", "dak-lak", "can-tho", "tp-ho-chi-minh")
TITLES = (
    "Cải tiến quy trình tiếp nhận hồ sơ",
    "Ứng dụng phần mềm quản lý đoàn viên",
    "Giải pháp tiết kiệm điện năng trong phân xưởng",
    "Đổi mới phương pháp giảng dạy môn Ngữ văn",
)


def _unit_path(k: int) -> list[str]:
    # Root, province, provincial education union, grassroots unit: the federation's 4 levels.
    province = PROVINCES[k % len(PROVINCES)]
    return [ROOT, province, f"{province}-giao-duc", f"cdcs-{province}-{k:03d}"]


def build_events(count: int, *, units: int = 300) -> list[InitiativeSubmitted]:
    """``count`` valid InitiativeSubmitted events over ``units`` unions; ids and titles unique."""
    paths = [_unit_path(k) for k in range(units)]
    events = []
    for i in range(count):
        path = paths[i % units]
        events.append(
            InitiativeSubmitted(
                # Deterministic ids keep runs comparable; the shape is a valid version-4 UUID.
                event_id=UUID(f"00000000-0000-4000-8000-{i:012d}"),
                occurred_at=datetime(2025, 5, 12, 9, 30, tzinfo=ICT) + timedelta(seconds=i),
                campaign_id=CAMPAIGN,
                union_id=path[-1],
                union_path=path,
                data=InitiativeSubmittedData(
                    initiative_id=UUID(f"5b0e3c1e-8a4f-4c55-9d2b-{i:012d}"),
                    title=f"{TITLES[i % len(TITLES)]} số {i}",
                    field="Giáo dục và đào tạo",
                    authors=[
                        AuthorRef(
                            person_key=f"p-{i:06x}", category=AuthorCategory.PUBLIC_SERVICE_STAFF
                        ),
                        AuthorRef(person_key="p-1b2e4d", category=AuthorCategory.UNION_OFFICIAL),
                    ],
                    estimated_benefit_vnd=120_000_000 + i,
                    application_date=date(2025, 3, 1),
                    recognised_by=RecognisedBy.INITIATIVE_COUNCIL,
                    recognised_on=date(2025, 4, 20),
                    entered_by="ho-tro-03",
                ),
            )
        )
    return events


def schedule(rounds: int) -> Iterator[tuple[int, str]]:
    """(round, side) pairs: baseline and candidate alternate, the first of each pair swapping.

    Swapping who goes first cancels most of a slow drift (CPU heating, page cache, a broker
    that fills up) that would otherwise always favour the side that runs first.
    """
    for round_ in range(1, rounds + 1):
        pair = (BASELINE, CANDIDATE) if round_ % 2 else (CANDIDATE, BASELINE)
        for side in pair:
            yield round_, side


@dataclass
class Figure:
    """One measured quantity: its per-round values on each side (higher is better)."""

    name: str
    unit: str
    baseline: list[float] = field(default_factory=list)
    candidate: list[float] = field(default_factory=list)

    def add(self, side: str, value: float) -> None:
        """Record one round's value for ``side``."""
        (self.baseline if side == BASELINE else self.candidate).append(value)

    @property
    def ratio(self) -> float:
        """Median candidate over median baseline."""
        return statistics.median(self.candidate) / statistics.median(self.baseline)

    def headline(self, figure: str, baseline: str, *, aims: Sequence[Aim] = ()) -> dict[str, Any]:
        """This figure as a headline record, the candidate's median against the baseline's."""
        return headline(
            figure,
            self.unit,
            candidate=statistics.median(self.candidate),
            baseline_name=baseline,
            baseline=statistics.median(self.baseline),
            rounds=len(self.candidate),
            aims=aims,
        )

    def as_json(self) -> dict[str, Any]:
        """The figure, its rounds, medians and ratio, for the results file."""
        return {
            "name": self.name,
            "unit": self.unit,
            "baseline_rounds": self.baseline,
            "candidate_rounds": self.candidate,
            "baseline_median": statistics.median(self.baseline),
            "candidate_median": statistics.median(self.candidate),
            "ratio": self.ratio,
        }


@dataclass(frozen=True)
class Aim:
    """An aim the issue sets for a figure, and whether this run met it."""

    text: str
    met: bool


def headline(
    figure: str,
    unit: str,
    *,
    candidate: float,
    baseline_name: str | None,
    baseline: float | None,
    rounds: int,
    better: str = "higher",
    ratio: float | None = None,
    aims: Sequence[Aim] = (),
) -> dict[str, Any]:
    """One headline figure as the results files carry it, for the table in BENCHMARKS.md.

    ``ratio`` defaults to candidate / baseline; ``better`` says which way is good ("higher"
    for rates, "lower" for seconds and latencies), for the candidate and the ratio alike.
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    if ratio is None and baseline:
        ratio = candidate / baseline
    return {
        "figure": figure,
        "unit": unit,
        "better": better,
        "candidate": candidate,
        "baseline": None if baseline is None else {"name": baseline_name, "value": baseline},
        "ratio": ratio,
        "rounds": rounds,
        "aims": [{"text": aim.text, "met": aim.met} for aim in aims],
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _os_name() -> str:
    kernel = f"{platform.system()} {platform.release()} {platform.machine()}"
    try:
        return f"{platform.freedesktop_os_release()['PRETTY_NAME']} ({kernel})"
    except (OSError, KeyError):
        return kernel


@functools.cache
def machine() -> dict[str, Any]:
    """The machine the figures come from: CPU, cores, memory, OS, Python."""
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": _os_name(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _git_revision() -> str | None:
    # Results files outlive the run: say which code produced them (dirty = uncommitted edits).
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=RESULTS_DIR.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None


def report(
    console: Console,
    name: str,
    *,
    title: str,
    baseline: str,
    candidate: str,
    figures: list[Figure],
    parameters: dict[str, Any],
    notes: Sequence[str] = (),
    baseline_label: str | None = None,
) -> Path:
    """Print the table and the machine line; write bench/results/<name>.json; return its path.

    ``baseline_label``: the baseline's short name in BENCHMARKS.md (default ``baseline``).
    """
    baseline_label = baseline_label or baseline
    rounds = len(figures[0].baseline)
    table = Table(title=title, caption=f"median of {rounds} interleaved rounds each")
    table.add_column("figure")
    table.add_column("baseline", justify="right")
    table.add_column("candidate", justify="right")
    table.add_column("ratio\ncand/base", justify="right", style="bold")
    for figure in figures:
        table.add_row(
            f"{figure.name} ({figure.unit})",
            f"{statistics.median(figure.baseline):,.0f}",
            f"{statistics.median(figure.candidate):,.0f}",
            f"{figure.ratio:.2f}×",
        )
    console.print(f"baseline:  {baseline}\ncandidate: {candidate}")
    console.print(table)
    info = machine()
    console.print(f"machine: {info['cpu_count']} CPUs, Python {info['python']}, {info['platform']}")
    for note in notes:
        console.print(f"note: {note}")
    path = write_results(
        name,
        headlines=[figure.headline(f"{name}: {figure.name}", baseline_label) for figure in figures],
        document={
            "parameters": parameters,
            "baseline": baseline,
            "candidate": candidate,
            "figures": [figure.as_json() for figure in figures],
            "notes": list(notes),
        },
    )
    console.print(f"results written to {os.path.relpath(path)}")
    return path


def write_results(
    name: str,
    *,
    headlines: list[dict[str, Any]],
    document: dict[str, Any],
    git: str | None = None,
    machine_extra: dict[str, Any] | None = None,
    checks: dict[str, bool] | None = None,
) -> Path:
    """Write bench/results/<name>.json: when, which revision, the machine, the headlines, the rest.

    ``git`` is the revision read when the run started (default: now); ``document`` holds the
    benchmark's own figures, every round, its parameters and anything else it reports;
    ``checks`` says which of its correctness checks passed (BENCHMARKS.md names the others).
    """
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    whole = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git or _git_revision(),
        "machine": machine() | (machine_extra or {}),
        "headlines": headlines,
        "checks": checks or {},
        **document,
    }
    path.write_text(json.dumps(_finite(whole), indent=2, ensure_ascii=False) + "\n")
    return path


def _finite(value: Any) -> Any:
    """``value`` with NaN (a percentile of nothing) as null: NaN is not JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
