"""The README's run command, end to end: `sangkien demo` brings up the whole stack, loads the
Đắk Lắk case and plays its 35 days through the HTTP API at high speed. Afterwards the counters
of every unit equal the submission database, and every alert the notifier raised or resolved is
what the pace model says of the numbers it saw, which were the database's truth at that time."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from mail_tools import by_recipient, plain_text, read_maildir

from deploy.cli.context import StackContext
from deploy.launcher.services import REPO_ROOT
from deploy.source_case.dak_lak import CAMPAIGN, PROVINCE, SourceCase, build
from e2e.faults import truth
from shared.pace import (
    PaceStatus,
    campaign_bounds,
    elapsed_fraction,
    expected_count,
    pace_status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

MINUTES = 2.0  # the 35 days in two real minutes: one real second is about 7 campaign hours
STATUSES = ("registered", "under_review", "valid", "rejected", "withdrawn")
START, END = campaign_bounds(
    datetime(2022, 4, 27).date(), datetime(2022, 5, 31).date(), "Asia/Ho_Chi_Minh"
)


@dataclass(frozen=True)
class Stored:
    """One initiative as the submission database holds it."""

    path: tuple[str, ...]
    status: str
    submitted_at: datetime
    withdrawn_at: datetime | None


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The demo, run until the campaign is over; the stack is stopped after the module."""
    workdir = tmp_path_factory.mktemp("dak-lak")
    command = [sys.executable, "-m", "deploy.cli", "--workdir", str(workdir), "demo",
               "--minutes", str(MINUTES), "--lead-seconds", "30"]  # fmt: skip
    demo = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(Path.home())},
    )  # fmt: skip
    lines: list[str] = []
    over = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "the campaign is over" in line:
                over.set()
        over.set()

    threading.Thread(target=read, daemon=True).start()
    over.wait(timeout=420)
    try:
        assert any("the campaign is over" in line for line in lines), "".join(lines)
        yield workdir, lines
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=120)
        except subprocess.TimeoutExpired:
            demo.kill()  # its children die with it (PR_SET_PDEATHSIG)
            raise


def _stored(workdir: Path) -> list[Stored]:
    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    with sqlite3.connect(workdir / "submission.db") as db:
        withdrawn = dict(
            db.execute(
                "SELECT initiative_id, at FROM initiative_status_history WHERE status = 'withdrawn'"
            ).fetchall()
        )
        rows = db.execute("SELECT id, union_path, status, submitted_at FROM initiatives").fetchall()
    return [
        Stored(
            tuple(p for p in path.split("/") if p),
            status,
            instant(submitted),
            instant(withdrawn[id_]) if id_ in withdrawn else None,
        )
        for id_, path, status, submitted in rows
    ]


def _registered_at(stored: list[Stored], unit: str, at: datetime) -> int:
    """What the campaign counts (registered, not withdrawn) for ``unit`` at the instant ``at``."""
    return sum(
        1
        for s in stored
        if unit in s.path
        and s.submitted_at <= at
        and (s.withdrawn_at is None or s.withdrawn_at > at)
    )


def _truth_near(stored: list[Stored], unit: str, at: datetime) -> tuple[int, int]:
    """The least and the most ``unit`` counted from a campaign day before ``at`` to an hour
    after: what an evaluation at ``at`` may have seen, given the pipeline's lag (a withdrawal
    takes one away, so the count is not monotonic)."""
    start, end = at - timedelta(days=1), at + timedelta(hours=1)
    changes = [
        moment
        for s in stored
        if unit in s.path
        for moment in (s.submitted_at, s.withdrawn_at)
        if moment is not None and start < moment < end
    ]
    counts = [_registered_at(stored, unit, moment) for moment in (start, end, *changes)]
    return min(counts), max(counts)


def test_the_demo_loads_the_source_case_at_27_84_percent(played: tuple[Path, list[str]]) -> None:
    _, lines = played

    assert any("Đắk Lắk at the launch: 696/2,500 = 27.84%" in line for line in lines)


def test_every_units_counters_equal_the_database(played: tuple[Path, list[str]]) -> None:
    workdir, _ = played
    stack = StackContext.find(workdir)
    stored = _stored(workdir)
    case = build()
    with stack.client("scoring") as scoring:
        deadline = time.monotonic() + 60
        province = truth(stored, PROVINCE)
        while _progress(scoring, PROVINCE)["registered"] != province["registered"]:
            assert time.monotonic() < deadline, "scoring never caught up with the database"
            time.sleep(0.5)
        counted = {u.id: _progress(scoring, u.id) for u in case.units}

    assert len(stored) > 2000
    mismatches = {
        unit.id: (counted[unit.id], truth(stored, unit.id))
        for unit in case.units
        if {k: counted[unit.id][k] for k in STATUSES} != truth(stored, unit.id)
    }
    assert mismatches == {}


def test_every_alert_is_the_pace_models_verdict_on_the_databases_numbers(
    played: tuple[Path, list[str]],
) -> None:
    workdir, _ = played
    stack = StackContext.find(workdir)
    stored = _stored(workdir)
    case: SourceCase = build()
    targets = case.final_targets()
    with stack.client("notifier") as notifier:
        history = {
            u.id: notifier.get(f"/campaigns/{CAMPAIGN}/units/{u.id}/alerts").json()
            for u in case.units
        }
    pace_changes = [
        (unit, change)
        for unit, changes in history.items()
        for change in changes
        if change["rule"] in ("behind", "critical")
    ]

    wrong = []
    for unit, change in pace_changes:
        at = datetime.fromisoformat(change["at"])
        expected = expected_count(targets[unit], elapsed_fraction(at, START, END))
        counted = change["counted"]
        lagging = _lags(change["rule"], counted, expected)
        verdict_holds = lagging if change["status"] in ("pending", "firing") else not lagging
        low, high = _truth_near(stored, unit, at)
        seen_truly = low <= counted <= high
        if not (verdict_holds and seen_truly and abs(change["expected"] - expected) < 0.01):
            wrong.append(
                f"{unit} {change['rule']} {change['status']} at {at:%d/%m %H:%M}: saw "
                f"{change['counted']} of {change['expected']} expected (pace model: "
                f"{expected:.2f}, database {low}..{high})"
            )

    assert len(pace_changes) > 20  # the stalled units were alerted, some recovered
    assert {c["status"] for _, c in pace_changes} >= {"pending", "firing", "resolved"}
    assert wrong == []


def test_every_unit_firing_at_the_end_is_behind_and_its_head_was_emailed(
    played: tuple[Path, list[str]],
) -> None:
    workdir, _ = played
    stack = StackContext.find(workdir)
    stored = _stored(workdir)
    case = build()
    targets = case.final_targets()
    names = {u.id: u.name for u in case.units}
    with stack.client("notifier") as notifier:
        alerts = notifier.get(
            "/alerts", params={"campaign_id": CAMPAIGN, "status": "firing"}
        ).json()
    firing = {a["unit_id"] for a in alerts if a["rule"] in ("behind", "critical")}
    messages = read_maildir(workdir / "mail")
    told = {address: plain_text(mine) for address, mine in by_recipient(messages).items()}
    final_share = {u: _registered_at(stored, u, END) / targets[u] for u in targets if targets[u]}

    # An alert as it stands carries the numbers of the last evaluation, whose time the expected
    # count gives away (expected = target × elapsed share): the verdict and the numbers it saw
    # are checked there, not at the end, which the last evaluation may precede by some hours.
    misjudged = []
    for alert in (a for a in alerts if a["rule"] in ("behind", "critical")):
        unit, counted, expected = alert["unit_id"], alert["counted"], alert["expected"]
        at = START + (END - START) * (expected / alert["target"])
        low, high = _truth_near(stored, unit, at)
        if not (_lags(alert["rule"], counted, expected) and low <= counted <= high):
            misjudged.append((unit, alert, low, high))

    assert firing, "the units that stalled for good must be firing at the end"
    assert misjudged == []
    assert {u for u, share in final_share.items() if share < 0.7} <= firing
    assert [u for u in firing if names[u] not in told.get(_head(u), "")] == []
    assert len({m["Message-ID"] for m in messages}) == len(messages)  # nothing sent twice


def _lags(rule: str, counted: int, expected: float) -> bool:
    """Whether the pace model (the campaign's default thresholds) puts the unit under ``rule``:
    ``behind`` covers critical too, as a critical unit is also behind."""
    status = pace_status(counted, expected)
    return status is PaceStatus.CRITICAL or (rule == "behind" and status is PaceStatus.BEHIND)


def _progress(scoring: httpx.Client, unit: str) -> dict[str, int]:
    answer = scoring.get(f"/campaigns/{CAMPAIGN}/units/{unit}/progress")
    answer.raise_for_status()
    body: dict[str, int] = answer.json()
    return body


def _head(unit: str) -> str:
    return f"chu-tich.{unit}@congdoan-daklak.example"
