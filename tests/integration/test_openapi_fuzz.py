"""Schemathesis against the OpenAPI of each service: generated requests, valid and invalid, get
no 5xx, and every answer conforms to the documented schema (its status code, content type and
body), as an admin and without a token.

Each service runs in this process over real infrastructure (SQLite, the session's Redis and
Kafka), seeded so that generated requests also reach known units, campaigns and initiatives.
Schemathesis generates the cases; httpx sends them to the app over ASGI in the test's own event
loop, where the app's clients live (Hypothesis runs in a worker thread and hands each request
to that loop). Bounded: 25 examples per operation (valid, invalid, and valid aimed at known
ids), derandomized, no shrinking.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
import schemathesis
from event_samples import ICT, dak_lak_campaign, target_event, union_event
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka_tools import publish_registry
from notifier_servers import running_smtp_server
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from submission_world import CAMPAIGN, SCHOOL, initiative, running_world
from token_service import token_service

from services.notifier.app import create_app as notifier_app
from services.scoring.adapters.registry import apply_registry_event
from services.scoring.app import create_app as scoring_app
from services.submission.app import create_app as submission_app
from shared.events import AnyEvent, UnionLevel, encode
from shared.kafka import ensure_topics, topic_specs
from shared.redis import create_redis
from shared.settings import CommonSettings, NotifierSettings, ScoringSettings, SubmissionSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # Schemathesis's own strategies use `random`; nothing this module can change.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

# A deeper hunt, by hand: SANGKIEN_FUZZ_EXAMPLES=200 pytest tests/integration/test_openapi_fuzz.py
MAX_EXAMPLES = int(os.environ.get("SANGKIEN_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Server-Sent Events streams never end: a generated GET would hang until its timeout.
SKIPPED = {"GET /campaigns/{campaign_id}/units/{unit_id}/stream"}
# The notifier's registry of units, campaigns and targets (on its Kafka topic).
N_PATH = ["tong-ldld-vn", "dak-lak", "dak-lak-giao-duc", "cdcs-thpt-bmt"]
N_CAMPAIGN = "dak-lak-cao-diem-2022"


@dataclass
class Service:
    """A running app, the client that reaches it, and the ids worth aiming generated paths at."""

    client: httpx.AsyncClient
    schema: Any
    headers: dict[str, dict[str, str]]
    known: dict[str, str] = field(default_factory=dict)


def _labels(build: Callable[[], FastAPI]) -> list[str]:
    """The operations of an app's OpenAPI (read at collection: building an app connects to
    nothing)."""
    spec = build().openapi()
    labels = [f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops]
    return [label for label in labels if label not in SKIPPED]


@asynccontextmanager
async def _serve(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def _schema(client: httpx.AsyncClient) -> Any:
    """The OpenAPI the app serves, as a client would read it."""
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    return schemathesis.openapi.from_dict(served.json())


@pytest.fixture(scope="module")
async def common(kafka_bootstrap: str, redis_url: str) -> CommonSettings:
    """Settings of this module's services: the session's Kafka and Redis, topics of its own."""
    unique = uuid.uuid4().hex[:10]
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        topic_initiative_events=f"fuzz-{unique}.initiative-events",
        topic_registry=f"fuzz-{unique}.registry",
        topic_alerts=f"fuzz-{unique}.alerts",
        topic_dead_letter=f"fuzz-{unique}.dead-letter",
        initiative_events_partitions=1,
    )
    await ensure_topics(settings.kafka_servers, topic_specs(settings))
    return settings


@pytest.fixture(scope="module")
async def submission(
    common: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    """The submission service on SQLite, relaying to Kafka, seeded with the Đắk Lắk world."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz')}/submission.db"
    settings = SubmissionSettings(**common.model_dump(), submission_database_url=url)
    async with running_world(settings) as world:
        created = await world.post("/initiatives", initiative(), who="officer")
        assert created.status_code == 201, created.text
        headers = {"admin": world.auth("root"), "anonymous": {}}
        known = {
            "unit_id": SCHOOL,
            "union_id": SCHOOL,
            "campaign_id": CAMPAIGN,
            "initiative_id": created.json()["id"],
        }
        yield Service(world.client, await _schema(world.client), headers, known)


async def _seed_scoring(redis_url: str, campaign: str, path: list[str]) -> None:
    redis = create_redis(redis_url)
    levels = [UnionLevel.NATIONAL, UnionLevel.PROVINCE, UnionLevel.UPPER_LEVEL]
    events: list[AnyEvent] = [
        union_event(path[: depth + 1], level) for depth, level in enumerate(levels)
    ]
    events += [
        union_event(path, UnionLevel.GRASSROOTS),
        dak_lak_campaign(campaign, path[:2]),
        target_event(campaign, path[:2], assigned=2500),
    ]
    try:
        for event in events:
            assert await apply_registry_event(redis, encode(event))
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
async def scoring(common: CommonSettings) -> AsyncIterator[Service]:
    """The scoring service consuming its Kafka topics, over Redis seeded with a registry."""
    campaign = f"fuzz-{uuid.uuid4().hex[:8]}"
    await _seed_scoring(common.redis_url, campaign, N_PATH)
    settings = ScoringSettings(**common.model_dump(), scoring_consume=True)
    async with _serve(scoring_app(settings), "http://scoring") as client:
        known = {"campaign_id": campaign, "unit_id": N_PATH[1], "group": N_PATH[1]}
        yield Service(client, await _schema(client), {"anonymous": {}}, known)


async def _publish_registry(settings: CommonSettings) -> None:
    events: list[AnyEvent] = [
        union_event(N_PATH[:1], UnionLevel.NATIONAL),
        union_event(N_PATH[:2], UnionLevel.PROVINCE),
        union_event(N_PATH[:3], UnionLevel.UPPER_LEVEL),
        union_event(N_PATH, UnionLevel.GRASSROOTS),
        dak_lak_campaign(N_CAMPAIGN, N_PATH[:2]),
        target_event(N_CAMPAIGN, N_PATH, assigned=40),
    ]
    await publish_registry(settings, events)


@pytest.fixture(scope="module")
async def notifier(
    common: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    """The notifier on SQLite, following its registry topic, mailing a real SMTP catcher."""
    await _publish_registry(common)
    directory = tmp_path_factory.mktemp("fuzz")
    with running_smtp_server() as smtp:
        values = common.model_dump() | {
            "notifier_database_url": f"sqlite+aiosqlite:///{directory / 'notifier.db'}",
            "clock_start": datetime(2022, 5, 24, 8, tzinfo=ICT),
            "clock_speed": 0,
            "notifier_pending_minutes": 0,
            "notifier_evaluation_interval_minutes": 10_000,
        }
        # The notifier asks the submission service who a token belongs to.
        async with token_service(directory) as tokens:
            _, admin = await tokens.issue("admin", N_PATH[0])
            values["notifier_submission_url"] = tokens.url
            settings: NotifierSettings = smtp.settings(**values)
            app = notifier_app(settings)
            async with _serve(app, "http://notifier") as client:
                # Until the registry topic is read it answers 503 by design: fuzz after.
                async with asyncio.timeout(30):
                    await app.state.registry_ready.wait()
                known = {"campaign_id": N_CAMPAIGN, "unit_id": N_PATH[1]}
                headers = {"admin": {"Authorization": f"Bearer {admin}"}, "anonymous": {}}
                yield Service(client, await _schema(client), headers, known)


def _strategy(operation: Any, known: dict[str, str]) -> Any:
    """Valid and invalid cases, half of the valid ones aimed at ids that exist."""
    names = {parameter.name for parameter in operation.path_parameters}
    aimed = {name: value for name, value in known.items() if name in names}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if aimed:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=aimed))
    return st.one_of(strategies)


def _request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis's request arguments (requests-style) as httpx's."""
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
        request["headers"] = {"Content-Type": "application/json", **request["headers"]}
    elif isinstance(kwargs.get("data"), bytes | str):
        request["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["data"] = kwargs["data"]
    return request


async def fuzz(service: Service, label: str, who: str) -> None:
    """Run the operation's generated cases as ``who``; fail on the first check that fails."""
    method, path = label.split(" ", 1)
    operation = service.schema[path][method]
    loop = asyncio.get_running_loop()
    headers = service.headers[who]

    def send(case: Any) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=str(service.client.base_url), headers=headers)
        future = asyncio.run_coroutine_threadsafe(service.client.request(**_request(kwargs)), loop)
        return future.result(timeout=30)

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, service.known))
    def generated(case: Any) -> None:
        response = send(case)
        case.validate_response(response, checks=CHECKS, headers=headers)

    await asyncio.to_thread(generated)


@pytest.mark.parametrize("who", ["admin", "anonymous"])
@pytest.mark.parametrize("label", _labels(submission_app))
async def test_submission_conforms_to_its_openapi(
    submission: Service, label: str, who: str
) -> None:
    await fuzz(submission, label, who)


@pytest.mark.parametrize("label", _labels(scoring_app))
async def test_scoring_conforms_to_its_openapi(scoring: Service, label: str) -> None:
    await fuzz(scoring, label, "anonymous")


@pytest.mark.parametrize("who", ["admin", "anonymous"])
@pytest.mark.parametrize("label", _labels(notifier_app))
async def test_notifier_conforms_to_its_openapi(notifier: Service, label: str, who: str) -> None:
    await fuzz(notifier, label, who)
