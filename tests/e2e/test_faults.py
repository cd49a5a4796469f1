"""Load with faults: support teams of many unions register for minutes over the whole stack
while scoring, the submission service, the notifier, the Kafka broker and Redis are killed with
SIGKILL and started again (Redis wiped, its counters rebuilt from the topic). At the end every
acknowledged registration is in the database and counted once at every level, and every alert
e-mail the notifier recorded as sent reached the mail catcher, once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from mail_tools import by_recipient, plain_text, read_maildir

from deploy.launcher.services import REPO_ROOT
from deploy.launcher.stack import LocalStack
from e2e.faults import (
    FaultLog,
    Hierarchy,
    Ledger,
    issue_token,
    levels_summary,
    read_topic,
    run_load,
    seed,
    stored_initiatives,
    wait_for_exact_counters,
    wait_until_drained,
)
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(480)]

LOAD_SECONDS = 120.0  # how long the support teams register
SUPPORT_TEAMS = 12  # concurrent clients, each with its own token and three unions
TEAM_PAUSE_SECONDS = 0.1  # between one team's registrations
# The campaign of 2 May to 31 August 2022 at 20,000× real time: a real second is 5.6 campaign
# hours, the opening grace (a tenth of the campaign) ends about 53 s after the clock starts,
# and a firing alert is repeated every 4.3 s (24 campaign hours).
CLOCK_SPEED = 20_000.0
LEAD_SECONDS = 25.0  # the clock stands at the campaign's first morning while the stack starts
STARTS_ON, ENDS_ON = date(2022, 5, 2), date(2022, 8, 31)
LOCAL = timezone(timedelta(hours=7))
NOTIFIER_LEASE_SECONDS = 6.0  # a killed notifier's lease is taken over this fast (default 30)
# (seconds into the load, what happens): each "crash" is a SIGKILL and a restart in place.
SCHEDULE = [
    (8.0, "crash scoring"),
    (18.0, "crash submission"),
    (28.0, "crash notifier"),
    (38.0, "crash scoring"),
    (48.0, "crash kafka"),
    (72.0, "crash scoring"),
    (82.0, "lose redis"),
    (104.0, "crash submission"),
    (110.0, "crash notifier"),
]


def test_load_with_faults_loses_nothing_and_counts_everything_once(tmp_path: Path) -> None:
    hierarchy = Hierarchy.generate(
        "thu-tai-2022", uppers=4, per_upper=12, stalled_per_upper=3, target=100
    )
    workdir = tmp_path / "stack"
    anchor = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    stack = LocalStack(workdir, settings=_clock_settings(anchor))
    try:
        stack.start_infrastructure(persistent=True)
        stack.start_services(["submission", "scoring", "notifier"], preferred_ports={})
        admin_token = stack.admin_token().read_text().strip()
        stack.write_env_file()  # for `sangkien rebuild`
        submission = stack.services["submission"].url
        with httpx.Client(
            base_url=submission, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
        ) as admin:
            seed(admin, hierarchy, starts_on=STARTS_ON, ends_on=ENDS_ON)
            teams = _teams(admin, hierarchy)
            officer = issue_token(
                admin, role="officer", scope=hierarchy.province, actor="tham-dinh"
            )
        print(f"seeded {len(hierarchy.units)} units; load starts", flush=True)

        ledger, faults = Ledger(), FaultLog()
        load_took = _load_under_faults(stack, hierarchy, teams, officer, ledger, faults)
        report = _check(stack, hierarchy, ledger, faults, load_took)
    finally:
        stack.stop()
    report.assert_all()


def _clock_settings(anchor: datetime) -> dict[str, str]:
    return {
        env_name("clock_start"): datetime.combine(
            STARTS_ON, datetime.min.time(), LOCAL
        ).isoformat(),
        env_name("clock_speed"): str(CLOCK_SPEED),
        env_name("clock_anchor"): anchor.isoformat(),
        env_name("notifier_lease_seconds"): str(NOTIFIER_LEASE_SECONDS),
        env_name("log_format"): "console",
    }


def _teams(admin: httpx.Client, hierarchy: Hierarchy) -> list[tuple[str, list[str]]]:
    """Each team: its own importer token over its upper-level union, and three unions."""
    active = hierarchy.active
    per_team = len(active) // SUPPORT_TEAMS
    teams = []
    for n in range(SUPPORT_TEAMS):
        units = active[n * per_team : (n + 1) * per_team]
        upper = hierarchy.parent[units[0]]
        assert all(hierarchy.parent[u] == upper for u in units)
        token = issue_token(admin, role="importer", scope=upper, actor=f"to-ho-tro-{n}")
        teams.append((token, units))
    return teams


def _load_under_faults(
    stack: LocalStack,
    hierarchy: Hierarchy,
    teams: list[tuple[str, list[str]]],
    officer: str,
    ledger: Ledger,
    faults: FaultLog,
) -> float:
    """The load in a thread of its own while this thread runs the faults: the kernel sends
    SIGTERM to a launcher's child when the *thread* that started it exits (PR_SET_PDEATHSIG),
    so what is restarted must be started from the thread that lives as long as the stack."""
    took: list[float] = []
    load = threading.Thread(
        target=lambda: took.append(asyncio.run(_load(stack, hierarchy, teams, officer, ledger)))
    )
    faults.started = time.monotonic()
    load.start()
    try:
        _run_schedule(stack, hierarchy, faults)
    finally:
        load.join()
    assert took, "the load stopped with an error (see above)"
    return took[0]


async def _load(
    stack: LocalStack,
    hierarchy: Hierarchy,
    teams: list[tuple[str, list[str]]],
    officer: str,
    ledger: Ledger,
) -> float:
    """The teams and the reviewer against the submission service for LOAD_SECONDS; returns
    the seconds until the last request in hand was answered."""
    return await run_load(
        [stack.services["submission"].url],  # the same address across its restarts
        hierarchy.campaign,
        teams,
        officer,
        ledger,
        seconds=LOAD_SECONDS,
        pause=TEAM_PAUSE_SECONDS,
        recognised_on=STARTS_ON - timedelta(days=1),
        give_up_after=120,
    )


def _run_schedule(stack: LocalStack, hierarchy: Hierarchy, faults: FaultLog) -> None:
    for offset, what in SCHEDULE:
        faults.wait_until(offset)
        if what == "lose redis":
            faults.run(
                "SIGKILL redis, stop scoring and the notifier, wipe Redis's data, restart "
                "Redis empty, `sangkien rebuild`, start scoring and the notifier",
                lambda: _lose_redis(stack, hierarchy.campaign, faults),
            )
        else:
            name = what.removeprefix("crash ")
            faults.run(
                f"SIGKILL {name}, restart it in place", lambda n=name: _crash(stack, n, faults)
            )


def _crash(stack: LocalStack, name: str, faults: FaultLog) -> None:
    faults.kill(stack, name)
    stack.restart(name)


def _lose_redis(stack: LocalStack, campaign: str, faults: FaultLog) -> None:
    """Redis dies and comes back without its data: what an operator does about it."""
    faults.kill(stack, "redis")
    # Both read the counters: the notifier would judge every unit on empty counters, and a
    # consuming scoring instance makes the rebuild refuse (its fences would skip the replay).
    stack.services["scoring"].stop()
    stack.services["notifier"].stop()
    for path in (stack.workdir / "redis").iterdir():
        if path.name != "redis.log":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    stack.restart("redis")
    _rebuild(stack.workdir, campaign)
    stack.restart("scoring")
    stack.restart("notifier")


def _rebuild(workdir: Path, campaign: str, timeout: float = 60.0) -> None:
    """`sangkien rebuild`, as an operator runs it; again while the group still has members."""
    command = [sys.executable, "-m", "deploy.cli", "--workdir", str(workdir), "rebuild",
               "--campaign", campaign]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode == 0:
            print(f"rebuild: {done.stdout.strip().splitlines()[-1:]}", flush=True)
            return
        assert "consuming" in done.stdout + done.stderr and time.monotonic() < deadline, (
            done.stdout + done.stderr
        )
        time.sleep(2)


class _Report:
    """What the end of the test found; ``assert_all`` after the stack is stopped."""

    def __init__(self) -> None:
        self.checks: list[tuple[str, bool]] = []

    def expect(self, what: str, holds: bool) -> None:
        self.checks.append((what, holds))
        print(f"  {'ok' if holds else 'FAILED'}: {what}", flush=True)

    def assert_all(self) -> None:
        failed = [what for what, holds in self.checks if not holds]
        assert failed == [], failed


def _check(
    stack: LocalStack, hierarchy: Hierarchy, ledger: Ledger, faults: FaultLog, load_took: float
) -> _Report:
    report = _Report()
    database = f"sqlite+aiosqlite:///{stack.workdir}/submission.db"
    assert stack.redis is not None
    drained = wait_until_drained(database, timeout=120)
    stored = stored_initiatives(database, hierarchy.campaign)
    by_id = {s.id: s for s in stored}
    counted, wrong, caught_up = wait_for_exact_counters(
        stack.redis.url, hierarchy.campaign, hierarchy.units, stored, timeout=120
    )
    # The notifier stopped cleanly: what it recorded as sent is final, and so is the mailbox.
    stack.services["notifier"].stop()
    notifier_kills = [at for name, at in faults.killed if name == "notifier"]
    mail = _mail_check(stack.workdir, hierarchy, notifier_kills)
    assert stack.kafka is not None
    _alert_events_check(stack.workdir, stack.kafka.bootstrap_servers, notifier_kills, mail)

    print("\n=== load with faults ===")
    print(f"load: {len(ledger.registered)} registrations acknowledged by {SUPPORT_TEAMS} teams "
          f"in {load_took:.0f} s, {len(ledger.decided)} reviews and withdrawals acknowledged, "
          f"{ledger.replayed} answers replayed from the idempotency record, retries: "
          f"{dict(ledger.retries)}, refused: {len(ledger.refused)}")  # fmt: skip
    print("faults (seconds into the load):")
    for entry in faults.entries:
        print(f"  {entry}")
    print(f"after the load: outbox drained in {drained:.1f} s, counters exact in "
          f"{caught_up:.1f} s")  # fmt: skip
    print("counts per level:")
    for line in levels_summary(hierarchy, counted):
        print(line)
    for line in mail.lines:
        print(line)
    print("checks:")
    report.expect("no registration was refused", ledger.refused == [])
    report.expect(
        "every acknowledged registration is in the database",
        set(ledger.registered) <= set(by_id),
    )
    report.expect(
        "the database holds nothing unacknowledged (each retry took effect once)",
        len(stored) == len(ledger.registered),
    )
    report.expect(
        "every acknowledged review and withdrawal is in the database",
        all(i in by_id and by_id[i].status == s for i, s in ledger.decided.items()),
    )
    report.expect(f"counters equal the database at all {len(hierarchy.units)} units", not wrong)
    if wrong:
        print(f"  mismatches (counted, truth): {dict(list(wrong.items())[:5])}")
    for what, holds in mail.checks:
        report.expect(what, holds)
    report.expect("a fault of every kind happened", len(faults.entries) == len(SCHEDULE))
    return report


class _MailCheck:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.checks: list[tuple[str, bool]] = []


def _mail_check(workdir: Path, hierarchy: Hierarchy, kills: list[float]) -> _MailCheck:
    """Every e-mail delivery the notifier recorded as sent is in the Maildir; nothing else is;
    a message arrived twice only when the notifier was killed between sending it and recording
    it (the copy has the same Message-ID, for the receiver to drop); every unit firing at the
    end had its head told."""
    result = _MailCheck()
    with sqlite3.connect(workdir / "notifier.db", timeout=30) as db:
        sent = db.execute(
            "SELECT id, recipient_union_id, evaluated_at, subject FROM deliveries "
            "WHERE channel = 'email' AND status = 'sent'"
        ).fetchall()
        unsent = db.execute(
            "SELECT count(*) FROM deliveries WHERE channel = 'email' AND status != 'sent'"
        ).fetchone()[0]
        firing = {
            unit
            for unit, rule in db.execute(
                "SELECT unit_id, rule FROM alerts WHERE status = 'firing' AND campaign_id = ?",
                (hierarchy.campaign,),
            )
            if rule in ("behind", "critical")
        }
        rules = Counter(
            rule for (rule,) in db.execute("SELECT rule FROM alert_changes WHERE status='firing'")
        )
    arrivals: dict[str, list[float]] = {}
    for path in sorted((workdir / "mail" / "new").iterdir()):
        message_id = _message_id(path)
        arrivals.setdefault(message_id, []).append(path.stat().st_mtime)
    messages = read_maildir(workdir / "mail")
    recorded = {row[0] for row in sent}
    copies = {i: times for i, times in arrivals.items() if len(times) > 1}
    # A crash between the send and its commit: the first copy went out shortly before a kill.
    unexplained = [i for i, t in copies.items() if not any(0 <= k - min(t) < 10 for k in kills)]
    notices = Counter((recipient, at, subject) for _, recipient, at, subject in sent)
    told = {address: plain_text(mine) for address, mine in by_recipient(messages).items()}
    untold = [u for u in firing if f"Công đoàn {u}" not in told.get(hierarchy.head(u), "")]
    result.lines = [
        f"alerts: fired {sum(rules.values())} times ({dict(rules)}); firing at the end: "
        f"{len(firing)} units ({len(set(hierarchy.stalled) & firing)} of the "
        f"{len(hierarchy.stalled)} stalled)",
        f"e-mail: {len(recorded)} deliveries recorded as sent, {unsent} not sent yet; "
        f"{len(messages)} messages in the mail catcher, {len(arrivals)} distinct Message-IDs; "
        f"{len(copies)} sent again after a notifier was killed before recording them",
    ]
    result.checks = [
        ("every e-mail recorded as sent is in the mail catcher", recorded <= set(arrivals)),
        ("the mail catcher holds nothing not recorded as sent", set(arrivals) <= recorded),
        ("a message went twice only across a notifier crash, with the same id", not unexplained),
        ("no head was sent the same notice twice", max(notices.values(), default=1) == 1),
        ("every stalled unit is firing at the end", set(hierarchy.stalled) <= firing),
        ("every unit firing at the end had its head e-mailed about it", untold == []),
    ]
    return result


def _alert_events_check(
    workdir: Path, bootstrap: str, kills: list[float], into: _MailCheck
) -> None:
    """Every alert event the notifier recorded as published is on the alerts topic; nothing
    else is; an event is there twice only across a notifier crash (same event_id)."""
    with sqlite3.connect(workdir / "notifier.db", timeout=30) as db:
        recorded = {
            i for (i,) in db.execute("SELECT id FROM deliveries WHERE channel = 'kafka' AND "
                                     "status = 'sent'")
        }  # fmt: skip
    records = asyncio.run(read_topic(bootstrap, CommonSettings().topic_alerts))
    arrivals: dict[str, list[float]] = {}
    for record in records:
        event_id = json.loads(record.value or b"{}")["event_id"]
        arrivals.setdefault(event_id, []).append(record.timestamp / 1000)
    copies = {i: t for i, t in arrivals.items() if len(t) > 1}
    unexplained = [i for i, t in copies.items() if not any(0 <= k - min(t) < 10 for k in kills)]
    into.lines.append(
        f"alert events: {len(recorded)} recorded as published, {len(records)} on the alerts "
        f"topic, {len(arrivals)} distinct; {len(copies)} published again across a crash"
    )
    into.checks += [
        ("every alert event recorded as published is on the topic", recorded <= set(arrivals)),
        ("the alerts topic holds nothing not recorded as published", set(arrivals) <= recorded),
        ("an alert event is there twice only across a notifier crash", not unexplained),
    ]


def _message_id(path: Path) -> str:
    """The delivery id in a stored message's Message-ID header (``<id@sangkien>``)."""
    for line in path.read_text(errors="replace").splitlines():
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip().strip("<>").removesuffix("@sangkien")
    return path.name
