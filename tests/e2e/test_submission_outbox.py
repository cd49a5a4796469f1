"""No acknowledged submission is lost: not while Kafka is down, not when the service is killed
between commit and publish. The submission service runs as a real process here."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from kafka_tools import read_records

from deploy.launcher import ServiceProcess, start_kafka, start_service
from deploy.launcher.process import free_port
from deploy.launcher.stack import issue_admin_token
from shared.events import decode
from shared.kafka import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

SCHOOLS = [f"cdcs-truong-{n}" for n in range(4)]


def _env(tmp_path: Path, kafka_port: int, unique: str) -> dict[str, str]:
    values = {
        "kafka_bootstrap_servers": f"127.0.0.1:{kafka_port}",
        "submission_database_url": f"sqlite+aiosqlite:///{tmp_path}/submission.db",
        "topic_initiative_events": f"e2e-{unique}.initiative-events",
        "topic_registry": f"e2e-{unique}.registry",
        "topic_alerts": f"e2e-{unique}.alerts",
        "topic_dead_letter": f"e2e-{unique}.dead-letter",
        "initiative_events_partitions": "3",
        "submission_relay_idle_seconds": "0.2",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    secret = os.environ[env_name("submission_person_key_secret")]
    return {
        **base,
        env_name("submission_person_key_secret"): secret,
        **{env_name(k): v for k, v in values.items()},
    }


def _settings(env: dict[str, str]) -> CommonSettings:
    return CommonSettings(
        **{
            k: env[env_name(k)]
            for k in (
                "kafka_bootstrap_servers",
                "topic_initiative_events",
                "topic_registry",
                "topic_alerts",
                "topic_dead_letter",
                "initiative_events_partitions",
            )
        }
    )


def _start(env: dict[str, str], tmp_path: Path) -> ServiceProcess:
    return start_service(
        "submission", port=free_port(), env=env, log_dir=tmp_path / "logs", log=lambda _: None
    )


def _seed(client: httpx.Client) -> None:
    units = [
        ("dak-lak", "tong-ldld-vn", "province"),
        ("dak-lak-giao-duc", "dak-lak", "upper_level"),
    ]
    units += [(school, "dak-lak-giao-duc", "grassroots") for school in SCHOOLS]
    for unit_id, parent, level in units:
        client.post(
            "/units",
            json={"id": unit_id, "name": f"Đơn vị {unit_id}", "parent_id": parent, "level": level},
        ).raise_for_status()
    today = date.today()
    campaign = {
        "id": "dot-cao-diem",
        "name": "Đợt cao điểm",
        "organiser_id": "dak-lak",
        "starts_on": str(today - timedelta(days=5)),
        "ends_on": str(today + timedelta(days=30)),
        "eligible_from": "2021-01-01",
        "eligible_to": str(today + timedelta(days=30)),
    }
    client.post("/campaigns", json=campaign).raise_for_status()


def _register(client: httpx.Client, school: str, n: int) -> str:
    body = {
        "campaign_id": "dot-cao-diem",
        "union_id": school,
        "title": f"Sáng kiến {school} số {n}",
        "field": "Giáo dục",
        "authors": [{"name": f"Tác giả {n}", "category": "public_service_staff"}],
        "recognised_by": "initiative_council",
        "recognised_on": str(date.today() - timedelta(days=1)),
        "application_date": str(date.today() - timedelta(days=20)),
    }
    response = client.post("/initiatives", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _client(service: ServiceProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _submitted_by_unit(records: list) -> dict[str, list[str]]:
    by_unit: dict[str, list[str]] = defaultdict(list)
    for record in records:
        event = decode(record.value)
        by_unit[event.union_id].append(str(event.data.initiative_id))  # type: ignore[union-attr]
    return by_unit


def test_registrations_accepted_while_kafka_is_down_all_arrive_in_order_per_unit(
    tmp_path: Path, unique: str
) -> None:
    port = free_port()
    env = _env(tmp_path, port, unique)
    settings = _settings(env)
    kafka = start_kafka(workdir=tmp_path / "kafka", port=port, log=lambda _: None)
    asyncio.run(ensure_topics(settings.kafka_servers, topic_specs(settings)))
    kafka.stop()  # Kafka is down from here on

    service = _start(env, tmp_path)
    try:
        with _client(service, issue_admin_token(tmp_path / "admin.token", env)) as client:
            _seed(client)
            registered: dict[str, list[str]] = defaultdict(list)
            for n in range(200):
                school = SCHOOLS[n % len(SCHOOLS)]
                registered[school].append(_register(client, school, n))
            degraded = client.get("/readyz").json()
        kafka = start_kafka(workdir=tmp_path / "kafka", port=port, log=lambda _: None)
        records = asyncio.run(
            read_records(
                settings.kafka_bootstrap_servers,
                settings.topic_initiative_events,
                count=200,
                timeout=90,
            )
        )
    finally:
        service.stop()
        kafka.stop()

    assert degraded["status"] == "degraded" and degraded["down"] == ["kafka"]
    assert len(records) == 200
    assert _submitted_by_unit(records) == registered


def test_an_event_committed_before_a_crash_is_published_after_the_restart(
    tmp_path: Path, unique: str
) -> None:
    port = free_port()  # nothing listens here yet: the first instance cannot publish
    env = _env(tmp_path, port, unique)
    settings = _settings(env)
    service = _start(env, tmp_path)
    with _client(service, issue_admin_token(tmp_path / "admin.token", env)) as client:
        _seed(client)
        initiative_id = _register(client, SCHOOLS[0], 1)
    service.process.popen.kill()  # SIGKILL: no shutdown, no last publish  # type: ignore[union-attr]
    service.process.popen.wait()  # type: ignore[union-attr]

    kafka = start_kafka(workdir=tmp_path / "kafka", port=port, log=lambda _: None)
    try:
        asyncio.run(ensure_topics(settings.kafka_servers, topic_specs(settings)))
        restarted = _start(env, tmp_path)
        try:
            records = asyncio.run(
                read_records(
                    settings.kafka_bootstrap_servers,
                    settings.topic_initiative_events,
                    count=1,
                    timeout=60,
                )
            )
        finally:
            restarted.stop()
    finally:
        kafka.stop()

    assert _submitted_by_unit(records) == {SCHOOLS[0]: [initiative_id]}
