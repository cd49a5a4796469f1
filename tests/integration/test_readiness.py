"""/readyz checks each dependency for real and names the one that is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deploy.launcher import start_redis
from deploy.launcher.process import free_port
from services.notifier.app import create_app as create_notifier
from services.scoring.app import create_app as create_scoring
from services.submission.app import create_app as create_submission
from shared.settings import NotifierSettings, ScoringSettings, SubmissionSettings

pytestmark = pytest.mark.integration

NOWHERE_KAFKA = "127.0.0.1:1"  # nothing listens on port 1


def test_scoring_reports_a_stopped_redis_as_not_ready(tmp_path: Path, kafka_bootstrap: str) -> None:
    redis = start_redis(workdir=tmp_path / "redis")
    settings = ScoringSettings(kafka_bootstrap_servers=kafka_bootstrap, redis_url=redis.url)
    with TestClient(create_scoring(settings)) as client:
        before = client.get("/readyz")
        redis.stop()
        after = client.get("/readyz")

    assert before.status_code == 200
    assert before.json()["status"] == "ready"
    assert after.status_code == 503
    assert after.json()["status"] == "not_ready"
    assert after.json()["down"] == ["redis"]
    assert after.json()["checks"]["redis"]["error"]


def test_submission_without_kafka_is_degraded_but_ready(tmp_path: Path) -> None:
    settings = SubmissionSettings(
        kafka_bootstrap_servers=NOWHERE_KAFKA,
        submission_database_url=f"sqlite+aiosqlite:///{tmp_path}/submission.db",
        readiness_timeout_seconds=1.0,
    )
    with TestClient(create_submission(settings)) as client:
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["down"] == ["kafka"]
    assert response.json()["checks"]["database"]["ok"] is True


def test_submission_is_ready_on_postgresql(postgres_url: str, kafka_bootstrap: str) -> None:
    database_url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    settings = SubmissionSettings(
        kafka_bootstrap_servers=kafka_bootstrap, submission_database_url=database_url
    )
    with TestClient(create_submission(settings)) as client:
        response = client.get("/readyz")

    assert response.json()["status"] == "ready"


def test_notifier_names_an_unreachable_database(kafka_bootstrap: str, redis_url: str) -> None:
    port = free_port()
    settings = NotifierSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        notifier_database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none",
        # Started by hand while its database is away: migrating would stop the start itself.
        notifier_migrate_on_start=False,
    )
    with TestClient(create_notifier(settings)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
