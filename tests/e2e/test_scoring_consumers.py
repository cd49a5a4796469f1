"""Scoring as real processes: two instances share the work, one is killed mid-stream, and the
counters end exact; Redis wiped and rebuilt from the topic ends exact too."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from event_samples import initiative_reviewed, initiative_submitted

from deploy.launcher import ServiceProcess, start_service
from deploy.launcher.process import free_port
from deploy.launcher.services import REPO_ROOT
from services.scoring.domain.reference import Initiative, expected_counters
from shared.counters import read_unit
from shared.events import AnyEvent, ReviewDecision, encode, partition_key
from shared.kafka import create_producer
from shared.redis import create_redis
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

UNITS = [f"cdcs-{n}" for n in range(12)]
EVENTS = 3000


def _stream(campaign: str) -> tuple[list[AnyEvent], list[Initiative]]:
    base_submitted, base_reviewed = initiative_submitted(), initiative_reviewed()
    events: list[AnyEvent] = []
    finals: list[Initiative] = []
    start = datetime(2022, 5, 2, 9, tzinfo=UTC)
    for n in range(EVENTS // 3 * 2):
        unit = UNITS[n % len(UNITS)]
        path = [*base_submitted.union_path[:-1], unit]
        initiative_id = uuid4()
        data = base_submitted.data.model_copy(
            update={"initiative_id": initiative_id, "field": f"Lĩnh vực {n % 3}"}
        )
        at = start + timedelta(minutes=n)
        events.append(
            base_submitted.model_copy(
                update={
                    "event_id": uuid4(),
                    "campaign_id": campaign,
                    "union_id": unit,
                    "union_path": path,
                    "occurred_at": at,
                    "data": data,
                }
            )
        )
        status = "submitted"
        if n % 2 == 0:
            decision = ReviewDecision.VALID if n % 4 == 0 else ReviewDecision.REJECTED
            review = base_reviewed.data.model_copy(
                update={"initiative_id": initiative_id, "decision": decision}
            )
            events.append(
                base_reviewed.model_copy(
                    update={
                        "event_id": uuid4(),
                        "campaign_id": campaign,
                        "union_id": unit,
                        "union_path": path,
                        "data": review,
                    }
                )
            )
            status = decision.value
        finals.append(
            Initiative(
                str(initiative_id),
                tuple(path),
                status,
                data.field,
                tuple(a.category.value for a in data.authors),
                tuple(sorted({a.person_key for a in data.authors})),
                data.estimated_benefit_vnd,
                "2022-05-02",
            )
        )
    return events, finals


async def _publish(settings: CommonSettings, events: list[AnyEvent]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send(
                settings.topic_initiative_events, encode(event), key=partition_key(event)
            )
        await producer.flush()
    finally:
        await producer.stop()


async def _matches(redis_url: str, campaign: str, finals: list[Initiative]) -> list[str]:
    redis = create_redis(redis_url)
    try:
        wrong = []
        for unit, want in expected_counters(finals).items():
            got = await read_unit(redis, campaign, unit)
            seen = (got.registered, got.under_review, got.valid, got.rejected, got.people)
            expected = (want.registered, want.under_review, want.valid, want.rejected)
            if seen != (*expected, len(want.people)):
                wrong.append(f"{unit}: {seen} != {(*expected, len(want.people))}")
        return wrong
    finally:
        await redis.aclose()


def _wait_exact(
    redis_url: str, campaign: str, finals: list[Initiative], timeout: float
) -> list[str]:
    deadline = time.monotonic() + timeout
    wrong = ["not checked"]
    while time.monotonic() < deadline and wrong:
        wrong = asyncio.run(_matches(redis_url, campaign, finals))
        if wrong:
            time.sleep(0.5)
    return wrong


def _env(settings: CommonSettings, group: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    values = {
        "kafka_bootstrap_servers": settings.kafka_bootstrap_servers,
        "redis_url": settings.redis_url,
        "topic_initiative_events": settings.topic_initiative_events,
        "topic_registry": settings.topic_registry,
        "topic_dead_letter": settings.topic_dead_letter,
        "scoring_consumer_group": group,
    }
    return {**base, **{env_name(k): v for k, v in values.items()}}


def _scoring(env: dict[str, str], tmp_path: Path, name: str) -> ServiceProcess:
    return start_service(
        "scoring", port=free_port(), env=env, log_dir=tmp_path / name, log=lambda _: None
    )


def test_two_instances_one_killed_mid_stream_end_with_exact_counters(
    settings: CommonSettings, tmp_path: Path, unique: str
) -> None:
    campaign = f"kill-{unique}"
    events, finals = _stream(campaign)
    env = _env(settings, f"scoring-{unique}")
    first, second = _scoring(env, tmp_path, "a"), _scoring(env, tmp_path, "b")
    try:
        asyncio.run(_publish(settings, events[: len(events) // 2]))
        first.process.popen.kill()  # type: ignore[union-attr]  # SIGKILL, mid-stream
        asyncio.run(_publish(settings, events[len(events) // 2 :]))
        wrong = _wait_exact(settings.redis_url, campaign, finals, timeout=90)
    finally:
        first.stop()
        second.stop()

    assert wrong == []


def test_redis_wiped_then_rebuilt_from_the_topic_is_exact(
    settings: CommonSettings, tmp_path: Path, unique: str
) -> None:
    campaign = f"rebuild-{unique}"
    events, finals = _stream(campaign)
    env = _env(settings, f"scoring-{unique}")
    scoring = _scoring(env, tmp_path, "a")
    try:
        asyncio.run(_publish(settings, events))
        before = _wait_exact(settings.redis_url, campaign, finals, timeout=90)
    finally:
        scoring.stop()
    redis = create_redis(settings.redis_url)
    asyncio.run(redis.flushall())

    result = subprocess.run(
        [sys.executable, "-m", "services.scoring.cli", "rebuild", "--campaign", campaign],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    after = _wait_exact(settings.redis_url, campaign, finals, timeout=5)

    assert before == []
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(events)} events applied" in result.stdout
    assert after == []


def test_a_redis_restart_mid_stream_loses_nothing_and_counts_nothing_twice(
    settings: CommonSettings, tmp_path: Path, unique: str
) -> None:
    from deploy.launcher import start_redis

    campaign = f"redis-down-{unique}"
    events, finals = _stream(campaign)
    redis = start_redis(workdir=tmp_path / "redis", persistent=True, log=lambda _: None)
    own = settings.model_copy(update={"redis_url": redis.url})
    scoring = _scoring(_env(own, f"scoring-{unique}"), tmp_path, "a")
    try:
        asyncio.run(_publish(own, events[: len(events) // 2]))
        time.sleep(1)
        redis.stop()  # SIGTERM: Redis writes its append-only file and exits
        asyncio.run(_publish(own, events[len(events) // 2 :]))
        time.sleep(2)  # the consumer meets a dead Redis and keeps its batch
        redis = start_redis(
            workdir=tmp_path / "redis", port=redis.port, persistent=True, log=lambda _: None
        )
        wrong = _wait_exact(own.redis_url, campaign, finals, timeout=90)
    finally:
        scoring.stop()
        redis.stop()

    assert wrong == []
