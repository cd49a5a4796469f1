"""What the benchmarks share: realistic events, interleaved rounds, the table and the JSON file."""

from __future__ import annotations

import json
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


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    return {
        "cpu_count": os.cpu_count(),
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
) -> Path:
    """Print the table and the machine line; write bench/results/<name>.json; return its path."""
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
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": _git_revision(),
        "machine": info,
        "parameters": parameters,
        "baseline": baseline,
        "candidate": candidate,
        "figures": [figure.as_json() for figure in figures],
        "notes": list(notes),
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    console.print(f"results written to {os.path.relpath(path)}")
    return path
