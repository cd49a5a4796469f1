"""No personal data in the logs, and alerts only to the right head.

One run over real apps: the submission service (its outbox relay publishing to the test's Kafka
topics, served over HTTP for the notifier's token checks) and the notifier (reading the registry
the relay published, sending e-mail to a real SMTP server and webhooks to a real receiver).
Authors with names, e-mails and phone numbers register, one by one, in a batch and in an import;
officers review and withdraw; heads with contacts get alerts, one address refused by the mail
server and one webhook answering 500. Every log record of both services, at DEBUG, is then
searched for the authors' names, e-mails, phones and person keys and the heads' contacts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from notifier_servers import SmtpCatcher, WebhookReceiver
from submission_world import CAMPAIGN, ROOT, SCHOOL, SCHOOL_2, UPPER, World, initiative
from token_service import TokenService, token_service

from services.notifier.app import create_app
from shared.settings import CommonSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

SECRET = "bi-mat-ky-webhook-cua-lien-doan-dak-lak-2022"
AUTHORS = [
    {
        "name": "Nguyễn Thị Hoa",
        "category": "public_service_staff",
        "identifier": "hoa.nt@gmail.com",
    },
    {"name": "Trần Văn Bình", "category": "enterprise_worker", "identifier": "0905123456"},
    {"name": "Lê Thị Mai Anh", "category": "union_official"},
]
IMPORTED_AUTHOR = ("Phạm Quốc Tuấn", "0914777888")
SCHOOL_HEAD = {"name": "Hiệu trưởng Đặng Văn Khoa", "email": "khoa.dv@thpt-bmt.edu.vn"}
SCHOOL_2_HEAD = {"name": "Hiệu trưởng Võ Thị Lan", "email": "lan.vt@thpt-cva.edu.vn"}


def _csv() -> bytes:
    today = date.today()
    recognised = (today - timedelta(days=3)).strftime("%d/%m/%Y")
    applied = (today - timedelta(days=30)).strftime("%d/%m/%Y")
    header = "Mã đợt,Mã đơn vị,Tên sáng kiến,Lĩnh vực,Tác giả,Mã định danh,Đối tượng,"
    header += "Cấp công nhận,Ngày công nhận,Ngày áp dụng"
    name, phone = IMPORTED_AUTHOR
    row = f"{CAMPAIGN},{SCHOOL},Sổ tay điện tử cho tổ chuyên môn,Giáo dục,{name},{phone},CCVC,"
    row += f"Hội đồng sáng kiến,{recognised},{applied}"
    return f"{header}\n{row}\n".encode()


async def _register_review_import(world: World) -> list[str]:
    """Registrations of every kind, a refused one, reviews and a withdrawal; the person keys."""
    keys: list[str] = []
    for n, author in enumerate(AUTHORS):
        body = initiative(title=f"Sáng kiến số {n} của {author['name']}", authors=[author])
        created = await world.post("/initiatives", body, who="officer")
        assert created.status_code == 201, created.text
        keys += [a["person_key"] for a in created.json()["authors"]]
    batch = [initiative(title="Sáng kiến theo lô", authors=AUTHORS[:2]), initiative(title="")]
    answer = await world.post("/initiatives/batch", {"initiatives": batch}, who="importer")
    assert answer.json()["failed"] == 1  # a refused row: its problems are not logged either
    headers = {"Content-Type": "text/csv", **world.auth("importer")}
    imported = await world.client.post("/initiatives/import", content=_csv(), headers=headers)
    assert imported.json()["failed"] == 0, imported.text
    refused = await world.post(
        "/initiatives", initiative(title="", authors=[AUTHORS[0]]), who="officer"
    )
    assert refused.status_code == 422
    listed = (await world.get("/initiatives", who="admin", limit=50)).json()["items"]
    ids = [item["id"] for item in listed]
    for initiative_id in ids[:3]:
        await world.post(f"/initiatives/{initiative_id}/review", {"decision": "valid"}, "officer")
    await world.post(f"/initiatives/{ids[3]}/withdraw", {}, who="officer")
    keys += [a["person_key"] for item in listed for a in item["authors"]]
    return keys


async def _set_heads_and_targets(world: World, webhook_url: str) -> None:
    heads = {
        SCHOOL: {**SCHOOL_HEAD, "webhook_url": webhook_url, "alert_channels": ["email", "webhook"]},
        SCHOOL_2: {**SCHOOL_2_HEAD, "alert_channels": ["email"]},
    }
    for unit, head in heads.items():
        changed = await world.client.patch(
            f"/units/{unit}", json={"head": head}, headers=world.auth("admin")
        )
        assert changed.status_code == 200, changed.text
        target = await world.client.put(
            f"/campaigns/{CAMPAIGN}/targets/{unit}",
            json={"assigned_target": 40, "reason": "Chỉ tiêu đợt cao điểm"},
            headers=world.auth("admin"),
        )
        assert target.status_code == 200, target.text


@asynccontextmanager
async def _notifier(
    service: TokenService, smtp: SmtpCatcher, tmp_path: Path, common: dict[str, Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The notifier app asking ``service`` about tokens, signing webhooks, evaluating only on
    demand; a client in process and a root admin's token."""
    _, root = await service.issue("admin", ROOT)
    config = smtp.settings(
        **common,
        notifier_database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        notifier_submission_url=service.url,
        notifier_webhook_secret=SECRET,
        notifier_pending_minutes=0,
        notifier_evaluation_interval_minutes=10_000,
    )
    app = create_app(config)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client,
    ):
        yield client, root


async def _evaluate(client: httpx.AsyncClient, root: str, sent: Callable[[], bool]) -> None:
    """Evaluate as the root admin until the notifier, once it has read the heads and targets
    from the registry topic, has made deliveries and ``sent`` holds."""
    auth = {"Authorization": f"Bearer {root}"}
    deadline = time.monotonic() + 30
    while True:
        answer = await client.post("/evaluations", headers=auth)
        assert answer.status_code in (200, 503), answer.text
        made = (await client.get("/deliveries", headers=auth)).json()
        if made and sent():
            return
        assert time.monotonic() < deadline, f"nothing sent: {answer.text}, {made}"
        await asyncio.sleep(0.2)


# The test's own SMTP server (aiosmtpd) logs the addresses it is sent to: it stands for the
# heads' mail server, and is not one of the services.
TEST_SERVERS_LOGGER = "mail.log"


def services_only(caplog: pytest.LogCaptureFixture, printed: str) -> str:
    """Every log line the services wrote, captured or printed, without the test servers'."""
    records = [caplog.handler.format(r) for r in caplog.records if r.name != TEST_SERVERS_LOGGER]
    lines = [line for line in printed.splitlines() if f'"{TEST_SERVERS_LOGGER}"' not in line]
    return "\n".join(records + lines)


def _personal(keys: list[str], webhook_url: str) -> list[str]:
    texts = [a["name"] for a in AUTHORS] + [a["identifier"] for a in AUTHORS if "identifier" in a]
    texts += [*IMPORTED_AUTHOR, *keys, webhook_url]
    texts += [SCHOOL_HEAD["name"], SCHOOL_HEAD["email"], SCHOOL_2_HEAD["name"]]
    return [*texts, SCHOOL_2_HEAD["email"]]


async def test_no_personal_data_is_logged_by_either_service(
    settings: CommonSettings,
    tmp_path: Path,
    smtp_server: SmtpCatcher,
    webhook_receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every record: the services write JSON lines to stdout (captured by capsys); caplog keeps
    # whatever reaches the root logger before an app replaces its handlers.
    caplog.set_level(logging.DEBUG)
    smtp_server.refused.add(SCHOOL_2_HEAD["email"])  # the server's refusal quotes the address
    webhook_url = webhook_receiver.url_answering(500)
    # Both services at DEBUG (each app sets the root logger's level from its settings).
    common = settings.model_dump(exclude={"cors_allow_origins"}) | {"log_level": "DEBUG"}
    async with token_service(tmp_path, **common, submission_relay_enabled=True) as service:
        world = service.world
        keys = await _register_review_import(world)
        await _set_heads_and_targets(world, webhook_url)
        async with _notifier(service, smtp_server, tmp_path, common) as (client, root):
            await _evaluate(client, root, lambda: len(webhook_receiver.requests) > 0)
            log = await client.get("/deliveries", headers={"Authorization": f"Bearer {root}"})

    output = capsys.readouterr()
    logged = services_only(caplog, output.out + output.err)
    assert "delivery.failed" in logged  # the refusals were logged: the search has something
    assert '"level": "debug"' in logged  # and at DEBUG
    assert len(keys) >= 5 and smtp_server.emails  # and the run did what it says
    leaked = [text for text in _personal(keys, webhook_url) if text.lower() in logged.lower()]
    assert leaked == []
    shown = log.text.lower()
    assert [t for t in _personal(keys, webhook_url) if t.lower() in shown] == []


# --- alerts to the right head, webhooks a receiver can check ---------------------------------


async def test_only_the_lagging_units_head_is_told_and_the_message_names_no_sibling(
    settings: CommonSettings,
    tmp_path: Path,
    smtp_server: SmtpCatcher,
    webhook_receiver: WebhookReceiver,
) -> None:
    common = settings.model_dump(exclude={"cors_allow_origins"})
    async with token_service(tmp_path, **common, submission_relay_enabled=True) as service:
        world = service.world
        await _set_heads_and_targets(world, webhook_receiver.url_answering(200))
        # The sibling keeps pace: its own target is 0 now, so it cannot lag.
        await world.client.put(
            f"/campaigns/{CAMPAIGN}/targets/{SCHOOL_2}",
            json={"assigned_target": 0, "reason": "Đơn vị tạm dừng"},
            headers=world.auth("admin"),
        )
        async with _notifier(service, smtp_server, tmp_path, common) as (client, root):
            await _evaluate(client, root, lambda: bool(webhook_receiver.requests))

    recipients = {rcpt for email in smtp_server.emails for rcpt in email.rcpt_tos}
    assert recipients == {SCHOOL_HEAD["email"]}
    [email] = smtp_server.emails
    body = email.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    text = f"{email.message['Subject']}\n{body}"
    assert SCHOOL in text or "Trường THPT Buôn Ma Thuột" in text
    for other in (SCHOOL_2, "Chu Văn An", SCHOOL_2_HEAD["name"], SCHOOL_2_HEAD["email"], UPPER):
        assert other not in text
    [request] = webhook_receiver.requests
    assert SCHOOL_2 not in request.body.decode()


async def test_a_delivered_webhook_verifies_with_the_readme_recipe_alone(
    settings: CommonSettings,
    tmp_path: Path,
    smtp_server: SmtpCatcher,
    webhook_receiver: WebhookReceiver,
) -> None:
    common = settings.model_dump(exclude={"cors_allow_origins"})
    async with token_service(tmp_path, **common, submission_relay_enabled=True) as service:
        await _set_heads_and_targets(service.world, webhook_receiver.url_answering(204))
        async with _notifier(service, smtp_server, tmp_path, common) as (client, root):
            await _evaluate(client, root, lambda: bool(webhook_receiver.requests))

    [request] = webhook_receiver.requests
    # The README's recipe, and nothing of the notifier's code: HMAC-SHA256 under the shared
    # secret of the X-Sangkien-Timestamp header, a dot and the raw body, as "sha256=<hex>";
    # the timestamp within five minutes of the receiver's clock.
    timestamp = request.headers["x-sangkien-timestamp"]
    signed = timestamp.encode() + b"." + request.body
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, request.headers["x-sangkien-signature"])
    assert abs(time.time() - int(timestamp)) <= 300
    assert request.headers["x-sangkien-delivery"]
    assert json.loads(request.body)["recipient_union_id"] == SCHOOL
    forged = timestamp.encode() + b"." + request.body.replace(b"critical", b"on_track")
    forged_signature = "sha256=" + hmac.new(SECRET.encode(), forged, hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(forged_signature, request.headers["x-sangkien-signature"])
