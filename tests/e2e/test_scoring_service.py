"""The scoring service as a process: poison records go to the dead-letter topic while the
consumer carries on, /metrics counts it all, and the live stream follows the counters."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from event_samples import dak_lak_campaign, initiative_submitted, target_event, union_event
from kafka_tools import read_records

from deploy.launcher import start_service
from deploy.launcher.process import free_port
from shared.events import AnyEvent, UnionLevel, encode, partition_key
from shared.kafka import create_producer, read_dead_letter
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

PATH = ["tong-ldld-vn", "dak-lak", "dak-lak-giao-duc", "cdcs-thpt-buon-ma-thuot"]
AT = datetime(2022, 5, 2, 3, tzinfo=UTC)


def _registry(campaign: str) -> list[AnyEvent]:
    levels = [
        UnionLevel.NATIONAL,
        UnionLevel.PROVINCE,
        UnionLevel.UPPER_LEVEL,
        UnionLevel.GRASSROOTS,
    ]
    events: list[AnyEvent] = [
        union_event(PATH[: depth + 1], level, members=40) for depth, level in enumerate(levels)
    ]
    return [*events, dak_lak_campaign(campaign, PATH[:2]), target_event(campaign, PATH[:2], own=10)]


def _submission(campaign: str) -> AnyEvent:
    sample = initiative_submitted()
    data = sample.data.model_copy(update={"initiative_id": uuid4()})
    return sample.model_copy(
        update={
            "event_id": uuid4(),
            "campaign_id": campaign,
            "union_path": PATH,
            "union_id": PATH[-1],
            "occurred_at": AT,
            "data": data,
        }
    )


async def _publish(settings: CommonSettings, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def _events(settings: CommonSettings, topic: str, events: list[AnyEvent]) -> None:
    asyncio.run(_publish(settings, topic, [(partition_key(e), encode(e)) for e in events]))


def _next_progress(lines: object, deadline: float) -> dict[str, object]:
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("data: "):
            return dict(json.loads(line.removeprefix("data: ")))
        if time.monotonic() > deadline:
            break
    raise AssertionError("no progress event in time")


def test_poison_is_dead_lettered_metrics_count_and_the_stream_follows(
    settings: CommonSettings, tmp_path: Path, unique: str
) -> None:
    campaign = f"song-{unique}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    fields = (
        "kafka_bootstrap_servers",
        "redis_url",
        "topic_initiative_events",
        "topic_registry",
        "topic_dead_letter",
    )
    env = {
        **base,
        **{env_name(f): str(getattr(settings, f)) for f in fields},
        env_name("scoring_consumer_group"): f"g-{unique}",
    }
    _events(settings, settings.topic_registry, _registry(campaign))
    asyncio.run(
        _publish(settings, settings.topic_initiative_events, [(PATH[-1].encode(), b"{not json")])
    )
    _events(settings, settings.topic_initiative_events, [_submission(campaign)])
    service = start_service(
        "scoring", port=free_port(), env=env, log_dir=tmp_path, log=lambda _: None
    )
    try:
        url = f"{service.url}/campaigns/{campaign}/units/dak-lak"
        deadline = time.monotonic() + 30
        while (
            httpx.get(f"{url}/progress").json().get("registered") != 1
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        with httpx.stream("GET", f"{url}/stream", timeout=30) as stream:
            lines = stream.iter_lines()
            first = _next_progress(lines, time.monotonic() + 10)
            _events(settings, settings.topic_initiative_events, [_submission(campaign)])
            second = _next_progress(lines, time.monotonic() + 20)
        metrics = httpx.get(f"{service.url}/metrics").text
    finally:
        service.stop()
    [dead] = asyncio.run(
        read_records(settings.kafka_bootstrap_servers, settings.topic_dead_letter, count=1)
    )

    assert (first["registered"], first["percentage"]) == (1, 10.0)
    assert (second["registered"], second["percentage"]) == (2, 20.0)
    assert read_dead_letter(dead).reason == "not_json"
    assert read_dead_letter(dead).value == b"{not json"
    assert "scoring_dead_lettered_total 1.0" in metrics
    assert "scoring_events_applied_total 2.0" in metrics
    assert 'scoring_partition_lag{partition="' in metrics
