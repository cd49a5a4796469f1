"""Every service answers /healthz without its dependencies and exposes Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.notifier.app import create_app as create_notifier
from services.scoring.app import create_app as create_scoring
from services.submission.app import create_app as create_submission

FACTORIES = {
    "submission": create_submission,
    "scoring": create_scoring,
    "notifier": create_notifier,
}


@pytest.mark.parametrize("service", FACTORIES)
def test_healthz_answers_and_metrics_count_it(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANGKIEN_SUBMISSION_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/s.db")
    monkeypatch.setenv("SANGKIEN_NOTIFIER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/n.db")
    factory: Callable[[], FastAPI] = FACTORIES[service]
    with TestClient(factory()) as client:
        before = client.get("/metrics").text
        health = client.get("/healthz")
        metrics = client.get("/metrics")

    counted = _requests_counted(metrics.text, service=service, route="/healthz")
    assert health.json() == {"status": "ok", "service": service}
    assert metrics.headers["content-type"].startswith("text/plain")
    assert counted - _requests_counted(before, service=service, route="/healthz") == 1


def _requests_counted(exposition: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total"
        and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_unmatched_paths_share_one_metrics_label() -> None:
    with TestClient(create_scoring()) as client:
        client.get("/no/such/path/1")
        client.get("/no/such/path/2")
        metrics = client.get("/metrics").text

    assert _requests_counted(metrics, service="scoring", route="unmatched") >= 2
    assert "/no/such/path" not in metrics
