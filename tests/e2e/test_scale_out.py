"""Scale-out on one machine: three scoring instances in one consumer group over a topic of six
partitions, two submission instances on one PostgreSQL database (both run the relay; the lease
holder publishes). Support teams spread their registrations over both submission instances;
one scoring instance and the relay's lease holder are killed with SIGKILL mid-load. At the end
every acknowledged registration is in the database and the counters are exact at every level."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from deploy.launcher import ServiceProcess, start_redis, start_service
from deploy.launcher.process import free_port
from deploy.launcher.stack import issue_admin_token
from e2e.faults import (
    FaultLog,
    Hierarchy,
    Ledger,
    issue_token,
    levels_summary,
    run_load,
    seed,
    stored_initiatives,
    wait_for_exact_counters,
    wait_until_drained,
)
from shared.kafka import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

LOAD_SECONDS = 45.0  # how long the support teams register
SUPPORT_TEAMS = 12  # concurrent clients, each with its own token and four unions
TEAM_PAUSE_SECONDS = 0.1  # between one team's registrations
PARTITIONS = 6  # of the initiative events topic
SCORING_INSTANCES = 3
SUBMISSION_INSTANCES = 2
KILL_SCORING_AT = 15.0  # seconds into the load
KILL_SUBMISSION_AT = 25.0  # the instance holding the relay's lease


def test_three_scorers_and_two_submitters_lose_one_each_and_count_exactly(
    kafka_bootstrap: str, postgres_url: str, tmp_path: Path, unique: str
) -> None:
    hierarchy = Hierarchy.generate(
        f"mo-rong-{unique}", uppers=4, per_upper=12, stalled_per_upper=0, target=100
    )
    redis = start_redis(workdir=tmp_path / "redis", log=lambda _: None)
    database = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    env = _env(kafka_bootstrap, redis.url, database, unique)
    asyncio.run(ensure_topics(kafka_bootstrap.split(","), topic_specs(_settings(env))))
    services: list[ServiceProcess] = []
    try:
        # One after the other: the first applies the database's migrations.
        submitters = [_start("submission", env, tmp_path, n) for n in range(SUBMISSION_INSTANCES)]
        services += submitters
        scorers = [_start("scoring", env, tmp_path, n) for n in range(SCORING_INSTANCES)]
        services += scorers
        admin_token = issue_admin_token(tmp_path / "admin.token", env)
        with httpx.Client(
            base_url=submitters[0].url,
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=60,
        ) as admin:
            seed(admin, hierarchy, starts_on=_today() - timedelta(days=5),
                 ends_on=_today() + timedelta(days=30))  # fmt: skip
            teams = _teams(admin, hierarchy)
            officer = issue_token(
                admin, role="officer", scope=hierarchy.province, actor="tham-dinh"
            )

        ledger, faults = Ledger(), FaultLog()
        seen: dict[str, object] = {}
        took = _load_with_kills(
            submitters, scorers, hierarchy, teams, officer, ledger, faults, seen
        )

        drained = wait_until_drained(database, timeout=90)
        stored = stored_initiatives(database, hierarchy.campaign)
        counted, wrong, caught_up = wait_for_exact_counters(
            redis.url, hierarchy.campaign, hierarchy.units, stored, timeout=90
        )
        seen["end"] = {s.url: _metrics(s) for s in scorers + submitters if s.process.running()}
    finally:
        for service in services:
            service.stop()
        redis.stop()

    before, end = seen["before"], seen["end"]
    assert isinstance(before, dict) and isinstance(end, dict)
    killed_scorer, killed_submitter = seen["killed scoring"], seen["killed submission"]
    print("\n=== scale-out ===")
    print(f"load: {len(ledger.registered)} registrations acknowledged by {SUPPORT_TEAMS} teams "
          f"over {SUBMISSION_INSTANCES} submission instances in {took:.0f} s, "
          f"{len(ledger.decided)} reviews and withdrawals, retries: {dict(ledger.retries)}, "
          f"refused: {len(ledger.refused)}")  # fmt: skip
    for entry in faults.entries:
        print(f"  {entry}")
    print(f"scoring instances, partitions applied before the kill (killed: {killed_scorer}):")
    for url, metrics in before.items():
        if "partitions" in metrics:
            print(f"  {url}: partitions {sorted(metrics['partitions'])}, "
                  f"{metrics['applied']:.0f} events applied")  # fmt: skip
    print("at the end:")
    for url, metrics in end.items():
        if "partitions" in metrics:
            print(f"  {url}: partitions {sorted(metrics['partitions'])}, "
                  f"{metrics['applied']:.0f} events applied")  # fmt: skip
        else:
            print(f"  {url}: relay lease held: {metrics['lease']:.0f}")
    print(f"relay lease before the kill: {killed_submitter} (killed)")
    print(f"outbox drained in {drained:.1f} s after the load; counters exact in {caught_up:.1f} s")
    for line in levels_summary(hierarchy, counted):
        print(line)

    ids = {s.id for s in stored}
    scorer_partitions = [m["partitions"] for m in before.values() if "partitions" in m]
    taken_over = set(before[killed_scorer]["partitions"])  # type: ignore[index]
    after = set().union(*(m["partitions"] for u, m in end.items() if "partitions" in m))
    assert ledger.refused == []
    assert set(ledger.registered) <= ids, "an acknowledged registration is missing"
    assert len(stored) == len(ledger.registered), "a retried registration was stored twice"
    assert wrong == {}, dict(list(wrong.items())[:5])
    assert len(scorer_partitions) == SCORING_INSTANCES and all(scorer_partitions)
    assert taken_over and taken_over <= after, "the killed instance's partitions were not resumed"
    assert sum(m.get("lease", 0) for m in end.values()) == 1  # the survivor took the lease over


def _today() -> date:
    return date.today()


def _env(kafka: str, redis_url: str, database: str, unique: str) -> dict[str, str]:
    values = {
        "kafka_bootstrap_servers": kafka,
        "redis_url": redis_url,
        "submission_database_url": database,
        "topic_initiative_events": f"scale-{unique}.initiative-events",
        "topic_registry": f"scale-{unique}.registry",
        "topic_alerts": f"scale-{unique}.alerts",
        "topic_dead_letter": f"scale-{unique}.dead-letter",
        "initiative_events_partitions": str(PARTITIONS),
        "scoring_consumer_group": f"scoring-{unique}",
        "submission_relay_idle_seconds": "0.2",
        "log_format": "console",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    secret = os.environ[env_name("submission_person_key_secret")]
    return {
        **base,
        env_name("submission_person_key_secret"): secret,
        **{env_name(k): v for k, v in values.items()},
    }


def _settings(env: dict[str, str]) -> CommonSettings:
    fields = ("kafka_bootstrap_servers", "topic_initiative_events", "topic_registry",
              "topic_alerts", "topic_dead_letter", "initiative_events_partitions")  # fmt: skip
    return CommonSettings(**{k: env[env_name(k)] for k in fields})


def _start(name: str, env: dict[str, str], tmp_path: Path, n: int) -> ServiceProcess:
    return start_service(
        name, port=free_port(), env=env, log_dir=tmp_path / f"{name}-{n}", log=lambda _: None
    )


def _teams(admin: httpx.Client, hierarchy: Hierarchy) -> list[tuple[str, list[str]]]:
    """Each team: its own importer token over its upper-level union, and its unions."""
    per_team = len(hierarchy.active) // SUPPORT_TEAMS
    teams = []
    for n in range(SUPPORT_TEAMS):
        units = hierarchy.active[n * per_team : (n + 1) * per_team]
        upper = hierarchy.parent[units[0]]
        token = issue_token(admin, role="importer", scope=upper, actor=f"to-ho-tro-{n}")
        teams.append((token, units))
    return teams


_LAG = re.compile(r'^scoring_partition_lag\{partition="(\d+)"\}', re.MULTILINE)
_APPLIED = re.compile(r"^scoring_events_applied_total ([0-9.e+]+)", re.MULTILINE)
_LEASE = re.compile(r"^outbox_relay_lease_held ([0-9.]+)", re.MULTILINE)


def _metrics(service: ServiceProcess) -> dict[str, object]:
    """What an instance's /metrics says of its share: the partitions it applied records from
    and how many (scoring), or whether it holds the relay's lease (submission)."""
    text = httpx.get(f"{service.url}/metrics", timeout=10).text
    if service.name == "scoring":
        applied = _APPLIED.search(text)
        return {
            "partitions": {int(p) for p in _LAG.findall(text)},
            "applied": float(applied.group(1)) if applied else 0.0,
        }
    lease = _LEASE.search(text)
    return {"lease": float(lease.group(1)) if lease else 0.0}


def _load_with_kills(
    submitters: list[ServiceProcess],
    scorers: list[ServiceProcess],
    hierarchy: Hierarchy,
    teams: list[tuple[str, list[str]]],
    officer: str,
    ledger: Ledger,
    faults: FaultLog,
    seen: dict[str, object],
) -> float:
    """The load in a thread of its own; this thread kills one instance of each service."""
    took: list[float] = []
    urls = [s.url for s in submitters]
    load = threading.Thread(
        target=lambda: took.append(asyncio.run(_load(urls, hierarchy, teams, officer, ledger)))
    )
    faults.started = time.monotonic()
    load.start()
    try:
        faults.wait_until(KILL_SCORING_AT)
        seen["before"] = {s.url: _metrics(s) for s in scorers + submitters}
        victim = max(scorers, key=lambda s: len(seen["before"][s.url]["partitions"]))  # type: ignore[index]
        seen["killed scoring"] = victim.url
        faults.run(f"SIGKILL scoring {victim.url}", lambda: _kill(victim))
        faults.wait_until(KILL_SUBMISSION_AT)
        holder = next(s for s in submitters if _metrics(s)["lease"] == 1.0)
        seen["killed submission"] = holder.url
        faults.run(f"SIGKILL submission {holder.url} (the relay's lease holder)",
                   lambda: _kill(holder))  # fmt: skip
    finally:
        load.join()
    assert took, "the load stopped with an error (see above)"
    return took[0]


def _kill(service: ServiceProcess) -> None:
    assert service.process.popen is not None
    service.process.popen.kill()  # SIGKILL: no shutdown, no lease handed over
    service.process.popen.wait(timeout=30)


async def _load(
    urls: list[str],
    hierarchy: Hierarchy,
    teams: list[tuple[str, list[str]]],
    officer: str,
    ledger: Ledger,
) -> float:
    """The teams and the reviewer against the submission service for LOAD_SECONDS; returns
    the seconds until the last request in hand was answered."""
    return await run_load(
        urls,
        hierarchy.campaign,
        teams,
        officer,
        ledger,
        seconds=LOAD_SECONDS,
        pause=TEAM_PAUSE_SECONDS,
        recognised_on=_today() - timedelta(days=1),
        give_up_after=90,
    )
