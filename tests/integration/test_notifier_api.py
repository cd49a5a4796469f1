"""The notifier app over HTTP: its lifespan migrates the database, follows the real registry
topic and evaluates on demand; silences are created, listed and expired."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from event_samples import ICT, dak_lak_campaign, target_event, union_event
from kafka_tools import publish_registry
from notifier_servers import SmtpCatcher
from token_service import notifier_as_root_admin, token_service

from services.notifier.app import create_app
from shared.events import (
    AlertChannel,
    AnyEvent,
    UnionHead,
    UnionLevel,
)
from shared.settings import CommonSettings, NotifierSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

PROVINCE = ["tong-ldld", "ldld-dak-lak"]
SCHOOL = [*PROVINCE, "cdcs-thpt-bmt"]


def notifier_client(
    settings: NotifierSettings, tmp_path: Path
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The app, and a client with an admin token over the whole hierarchy."""
    return notifier_as_root_admin(settings, tmp_path, PROVINCE[0])


CITY = [*PROVINCE, "ldld-tp-bmt"]
CITY_UNITS: list[AnyEvent] = [
    union_event(PROVINCE[:1], UnionLevel.NATIONAL),
    union_event(PROVINCE, UnionLevel.PROVINCE),
    union_event(CITY, UnionLevel.UPPER_LEVEL),
]


def notifier_settings(
    tmp_path: Path, common: CommonSettings, smtp: SmtpCatcher, **overrides: object
) -> NotifierSettings:
    values = common.model_dump() | {
        "notifier_database_url": f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        "clock_start": datetime(2022, 5, 24, 8, tzinfo=ICT),  # 24 May, fixed
        "clock_speed": 0,
        "notifier_pending_minutes": 0,
    }
    return smtp.settings(**(values | overrides))


async def test_silences_are_created_listed_and_expired(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    await publish_registry(settings, CITY_UNITS)
    config = notifier_settings(tmp_path, settings, smtp_server, notifier_evaluate=False)
    async with notifier_client(config, tmp_path) as client:
        created = await client.post(
            "/silences",
            json={
                "unit_id": "ldld-tp-bmt",
                "subtree": True,
                "ends_at": "2022-05-31T17:00:00+07:00",
                "author": "Chủ tịch LĐLĐ TP",
                "reason": "Các trường đang thi học kỳ",
            },
        )
        listed = (await client.get("/silences")).json()
        expired = await client.delete(f"/silences/{created.json()['id']}")
        after = (await client.get("/silences")).json()
        everything = (await client.get("/silences", params={"active": "false"})).json()

    assert created.status_code == 201
    assert [s["unit_id"] for s in listed] == ["ldld-tp-bmt"]
    assert expired.status_code == 200 and expired.json()["expired_at"] is not None
    assert after == [] and len(everything) == 1


async def test_a_silence_ending_before_it_starts_is_refused_naming_the_field(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    await publish_registry(settings, CITY_UNITS)
    config = notifier_settings(tmp_path, settings, smtp_server, notifier_evaluate=False)
    async with notifier_client(config, tmp_path) as client:
        refused = await client.post(
            "/silences",
            json={
                "unit_id": "ldld-tp-bmt",
                "starts_at": "2022-05-20T08:00:00+07:00",
                "ends_at": "2022-05-10T08:00:00+07:00",
                "author": "x",
                "reason": "y",
            },
        )
        listed = (await client.get("/silences", params={"active": "false"})).json()

    assert refused.status_code == 422
    assert "ends_at" in refused.text
    assert listed == []


async def test_an_evaluation_on_demand_reads_the_registry_topic_and_emails_the_head(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher, unique: str
) -> None:
    campaign_id = f"dak-lak-{unique}"
    school_head = UnionHead(
        name="Hiệu trưởng", email="thpt@dl.vn", alert_channels=[AlertChannel.EMAIL]
    )
    registry = [
        union_event(PROVINCE[:1], UnionLevel.NATIONAL),
        union_event(PROVINCE, UnionLevel.PROVINCE),
        union_event(SCHOOL, UnionLevel.GRASSROOTS, head=school_head),
        dak_lak_campaign(campaign_id, PROVINCE),
        target_event(campaign_id, SCHOOL, assigned=40),
    ]
    await publish_registry(settings, registry)
    config = notifier_settings(
        tmp_path, settings, smtp_server, notifier_evaluation_interval_minutes=10_000
    )

    async with notifier_client(config, tmp_path) as client:
        evaluated = await _evaluate_when_registry_read(client)
        alerts = (await client.get("/alerts", params={"campaign_id": campaign_id})).json()
        log = (await client.get("/deliveries", params={"channel": "email"})).json()
        metrics = (await client.get("/metrics")).text

    assert evaluated["units"] == 1
    assert [(a["unit_id"], a["rule"], a["status"]) for a in alerts] == [
        ("cdcs-thpt-bmt", "behind", "firing"),
        ("cdcs-thpt-bmt", "critical", "firing"),
    ]
    assert [(d["recipient_union_id"], d["status"]) for d in log] == [("cdcs-thpt-bmt", "sent")]
    assert 'notifier_deliveries_total{channel="email",outcome="sent"}' in metrics
    assert 'notifier_alerts_firing{rule="critical"} 1.0' in metrics
    assert "notifier_active 1.0" in metrics
    [email] = smtp_server.emails
    assert email.rcpt_tos == ["thpt@dl.vn"]
    assert "0/40 sáng kiến" in email.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def _evaluate_when_registry_read(client: httpx.AsyncClient) -> dict[str, object]:
    for _ in range(200):  # the registry is read from its topic in the background: 20 s at most
        response = await client.post("/evaluations")
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError("the notifier did not read the registry in 20 s")


async def test_a_token_lists_only_the_silences_inside_its_scope(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    other_city = [*PROVINCE, "ldld-h-krong-pac"]
    await publish_registry(settings, [*CITY_UNITS, union_event(other_city, UnionLevel.UPPER_LEVEL)])
    config = notifier_settings(tmp_path, settings, smtp_server, notifier_evaluate=False)
    async with token_service(tmp_path) as tokens:
        _, admin = await tokens.issue("admin", PROVINCE[0])
        _, city_viewer = await tokens.issue("viewer", CITY[-1])
        app = create_app(config.model_copy(update={"notifier_submission_url": tokens.url}))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://notifier"
            ) as client,
        ):
            await asyncio.wait_for(app.state.registry_ready.wait(), 20)
            for unit in (CITY[-1], other_city[-1]):
                silence = {"unit_id": unit, "ends_at": "2022-05-31T17:00:00+07:00"}
                silence |= {"author": "Văn phòng LĐLĐ tỉnh", "reason": "Họp giao ban tháng"}
                created = await client.post("/silences", json=silence, headers=_bearer(admin))
                assert created.status_code == 201, created.text
            as_admin = (await client.get("/silences", headers=_bearer(admin))).json()
            as_city = (await client.get("/silences", headers=_bearer(city_viewer))).json()

    assert sorted(s["unit_id"] for s in as_admin) == sorted([CITY[-1], other_city[-1]])
    assert [s["unit_id"] for s in as_city] == [CITY[-1]]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
