"""Every endpoint of the submission service and the notifier, for every role, inside and outside
the caller's subtree: the status each gets, in one table per service.

The endpoints come from each app's OpenAPI document, so an endpoint added without a row here
fails ``test_every_endpoint_has_a_row``. Callers: no token; a viewer, officer, importer and admin
over Đắk Lắk (``in``: every call targets a unit of Đắk Lắk) and the same four over Hà Nội
(``out``); an admin over the national root (``root``). Real apps: the submission service on
SQLite, the notifier on SQLite, Redis and its registry topic on Kafka, asking the submission
service over HTTP who each token belongs to.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from event_samples import ICT, dak_lak_campaign, target_event, union_event
from fastapi import FastAPI
from kafka_tools import publish_registry
from notifier_servers import SmtpCatcher
from submission_world import (
    CAMPAIGN,
    OTHER_PROVINCE,
    PROVINCE,
    ROOT,
    SCHOOL,
    UPPER,
    initiative,
    submission_settings,
)
from token_service import TokenService, token_service

from services.notifier.app import create_app as create_notifier
from services.submission.app import create_app as create_submission
from shared.events import AlertChannel, AnyEvent, UnionHead, UnionLevel
from shared.settings import CommonSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

ROLES = ("viewer", "officer", "importer", "admin")
CALLERS = ("none", *(f"{r}-{w}" for r in ROLES for w in ("in", "out")), "root")
Row = tuple[int, ...]
Call = Callable[["Callers", dict[str, str]], Awaitable[httpx.Response]]

# fmt: off
# Columns:                                    none  viewer    officer   importer  admin    root
#                                                   in   out  in   out  in   out  in   out
SUBMISSION: dict[str, Row] = {
    "GET /healthz":                              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /readyz":                               (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /metrics":                              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /units":                               (401, 403, 403, 403, 403, 403, 403, 201, 403, 201),
    "GET /units/{unit_id}":                      (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "PATCH /units/{unit_id}":                    (401, 403, 403, 403, 403, 403, 403, 200, 403, 200),
    "POST /units/import":                        (401, 403, 403, 403, 403, 403, 403, 200, 403, 200),
    "GET /units/{unit_id}/children":             (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /units/{unit_id}/subtree":              (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /campaigns":                            (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /campaigns":                           (401, 403, 403, 403, 403, 403, 403, 201, 403, 201),
    "GET /campaigns/{campaign_id}":              (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "PUT /campaigns/{campaign_id}":              (401, 403, 403, 403, 403, 403, 403, 200, 403, 200),
    "GET /campaigns/{campaign_id}/targets/{union_id}":
                                                 (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "PUT /campaigns/{campaign_id}/targets/{union_id}":
                                                 (401, 403, 403, 403, 403, 403, 403, 200, 403, 200),
    "GET /initiatives":                          (401, 200, 403, 200, 403, 200, 403, 200, 403, 200),
    "POST /initiatives":                         (401, 403, 403, 201, 403, 201, 403, 201, 403, 201),
    "POST /initiatives/batch":                   (401, 403, 403, 200, 403, 200, 403, 200, 403, 200),
    "POST /initiatives/import":                  (401, 403, 403, 200, 403, 200, 403, 200, 403, 200),
    "GET /initiatives/{initiative_id}":          (401, 200, 403, 200, 403, 200, 403, 200, 403, 200),
    "POST /initiatives/{initiative_id}/review":  (401, 403, 403, 200, 403, 403, 403, 200, 403, 200),
    "POST /initiatives/{initiative_id}/withdraw":(401, 403, 403, 200, 403, 403, 403, 200, 403, 200),
    "POST /tokens":                              (401, 403, 403, 403, 403, 403, 403, 201, 403, 201),
    "GET /tokens/self":                          (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "DELETE /tokens/{token_id}":                 (401, 403, 403, 403, 403, 403, 403, 204, 403, 204),
}

NOTIFIER: dict[str, Row] = {
    "GET /healthz":                              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /readyz":                               (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /metrics":                              (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /alerts":                               (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /campaigns/{campaign_id}/units/{unit_id}/alerts":
                                                 (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /deliveries":                           (401, 200, 403, 200, 403, 200, 403, 200, 403, 200),
    "POST /evaluations":                         (401, 403, 403, 403, 403, 403, 403, 403, 403, 200),
    "GET /silences":                             (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /silences":                            (401, 403, 403, 201, 403, 403, 403, 201, 403, 201),
    "DELETE /silences/{silence_id}":             (401, 403, 403, 200, 403, 403, 403, 200, 403, 200),
    "GET /campaigns/{campaign_id}/units/{unit_id}/digest":
                                                 (401, 200, 403, 200, 403, 200, 403, 200, 403, 200),
    "GET /campaigns/{campaign_id}/units/{unit_id}/digest.xlsx":
                                                 (401, 200, 403, 200, 403, 200, 403, 200, 403, 200),
    "POST /campaigns/{campaign_id}/digests":     (401, 403, 403, 403, 403, 403, 403, 403, 403, 200),
}
# fmt: on
# Reading the table: a viewer's "out" list of initiatives is 403 because it asks for Đắk Lắk's
# (union_id=dak-lak); batches and imports answer 200 with a result per row, and a row refused by
# scope counts as 403 here; the importer may register but not review.


class Callers:
    """A token per caller, and unique names for what the calls create."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self._numbers = itertools.count(1)

    def headers(self, caller: str) -> dict[str, str]:
        """The Authorization header of ``caller`` (none for "none")."""
        if caller == "none":
            return {}
        return {"Authorization": f"Bearer {self.tokens[caller]}"}

    def fresh(self, prefix: str) -> str:
        """A new id: every call creates its own unit, campaign or token."""
        return f"{prefix}-{next(self._numbers)}"


async def issue_callers(service: TokenService) -> Callers:
    """The nine tokens of the table's columns."""
    tokens: dict[str, str] = {}
    for role, (where, scope) in itertools.product(
        ROLES, (("in", PROVINCE), ("out", OTHER_PROVINCE))
    ):
        tokens[f"{role}-{where}"] = (await service.issue(role, scope))[1]
    tokens["root"] = (await service.issue("admin", ROOT))[1]
    return Callers(tokens)


def expected_endpoints(app: FastAPI) -> set[str]:
    """``METHOD /path`` of every endpoint in the app's OpenAPI document, and /metrics."""
    paths = app.openapi()["paths"]
    found = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    return found | {"GET /metrics"}


def test_every_endpoint_has_a_row() -> None:
    assert expected_endpoints(create_submission(submission_settings("sqlite://"))) == set(
        SUBMISSION
    )
    assert expected_endpoints(create_notifier()) == set(NOTIFIER)


def mismatches(table: dict[str, Row], seen: dict[str, Row]) -> list[str]:
    """Readable differences: ``endpoint: caller expected x, got y``."""
    return [
        f"{endpoint}: {caller} expected {want}, got {got}"
        for endpoint, row in table.items()
        for caller, want, got in zip(CALLERS, row, seen[endpoint], strict=True)
        if want != got
    ]


# --- the submission service -----------------------------------------------------------------


def _csv() -> bytes:
    today = date.today()
    header = "Mã đợt,Mã đơn vị,Tên sáng kiến,Lĩnh vực,Tác giả,Đối tượng,Cấp công nhận,"
    header += "Ngày công nhận,Ngày áp dụng"
    recognised = (today - timedelta(days=3)).strftime("%d/%m/%Y")
    applied = (today - timedelta(days=30)).strftime("%d/%m/%Y")
    row = f"{CAMPAIGN},{SCHOOL},Sáng kiến nhập từ bảng tính,Giáo dục,Trần Văn Nam,CCVC,"
    row += f"Hội đồng sáng kiến,{recognised},{applied}"
    return f"{header}\n{row}\n".encode()


def _campaign(campaign_id: str) -> dict[str, object]:
    today = date.today()
    return {
        "id": campaign_id,
        "name": "Tháng cao điểm sáng kiến",
        "organiser_id": PROVINCE,
        "starts_on": (today - timedelta(days=10)).isoformat(),
        "ends_on": (today + timedelta(days=25)).isoformat(),
        "eligible_from": (today - timedelta(days=375)).isoformat(),
        "eligible_to": (today + timedelta(days=25)).isoformat(),
    }


def _unit(unit_id: str, parent: str, level: str) -> dict[str, object]:
    return {"id": unit_id, "name": f"Công đoàn {unit_id}", "parent_id": parent, "level": level}


async def submission_call(
    client: httpx.AsyncClient, callers: Callers, endpoint: str, caller: str
) -> httpx.Response:
    """One call of ``endpoint`` as ``caller``, on a Đắk Lắk unit (set up as the root admin)."""
    auth, root = callers.headers(caller), callers.headers("root")
    method, _, path = endpoint.partition(" ")
    body: Any = None
    content: bytes | None = None
    headers = dict(auth)
    if endpoint == "POST /units":
        body = _unit(callers.fresh("cdcs-moi"), UPPER, "grassroots")
    elif endpoint == "PATCH /units/{unit_id}":
        body = {"members": 90}
    elif endpoint == "POST /units/import":
        body = {"units": [_unit(callers.fresh("cong-doan-nganh"), PROVINCE, "upper_level")]}
    elif endpoint == "POST /campaigns":
        body = _campaign(callers.fresh("thang-cao-diem"))
    elif endpoint == "PUT /campaigns/{campaign_id}":
        body = _campaign(CAMPAIGN)
    elif endpoint == "PUT /campaigns/{campaign_id}/targets/{union_id}":
        body = {"assigned_target": 900}
    elif endpoint == "POST /initiatives":
        body = initiative()
    elif endpoint == "POST /initiatives/batch":
        body = {"initiatives": [initiative()]}
    elif endpoint == "POST /initiatives/import":
        content, headers = _csv(), {**auth, "Content-Type": "text/csv"}
    elif endpoint.startswith(("POST /initiatives/{", "GET /initiatives/{")):
        created = await client.post("/initiatives", json=initiative(), headers=root)
        path = path.replace("{initiative_id}", created.json()["id"])
        body = (
            {"decision": "valid"} if path.endswith("/review") else {} if method == "POST" else None
        )
    elif endpoint == "POST /tokens":
        body = {"role": "officer", "scope_union_id": SCHOOL, "actor_id": "moi-01", "label": "x"}
    elif endpoint == "DELETE /tokens/{token_id}":
        request = {"role": "viewer", "scope_union_id": SCHOOL, "actor_id": "moi-02", "label": "x"}
        issued = await client.post("/tokens", json=request, headers=root)
        path = path.replace("{token_id}", issued.json()["id"])
    path = path.format(unit_id=SCHOOL, campaign_id=CAMPAIGN, union_id=UPPER)
    params = {"union_id": PROVINCE} if endpoint == "GET /initiatives" else None
    return await client.request(
        method, path, json=body, content=content, headers=headers, params=params
    )


async def test_submission_access_per_role_and_scope(tmp_path: Path) -> None:
    async with token_service(tmp_path) as service:
        callers = await issue_callers(service)
        client = service.world.client
        seen: dict[str, Row] = {}
        for endpoint in SUBMISSION:
            statuses = []
            for caller in CALLERS:
                response = await submission_call(client, callers, endpoint, caller)
                if endpoint in ("POST /initiatives/batch", "POST /initiatives/import") and (
                    response.status_code == 200
                ):
                    # A batch or an import: a row refused for its scope is the refusal (403
                    # for the table); a row refused for anything else is a broken fixture.
                    refused = response.json()["failed"] > 0
                    scope = "scope" in response.text
                    statuses.append((403 if scope else 422) if refused else 200)
                else:
                    statuses.append(response.status_code)
            seen[endpoint] = tuple(statuses)

    assert mismatches(SUBMISSION, seen) == []


# --- the notifier ---------------------------------------------------------------------------

NOTIFIER_CAMPAIGN = "dak-lak-cao-diem-2022"
HEAD = UnionHead(name="Chủ tịch", email="chu-tich@dl.vn", alert_channels=[AlertChannel.EMAIL])


def notifier_registry() -> list[AnyEvent]:
    """The submission world's hierarchy as the registry topic carries it, with a campaign."""
    province, other = [ROOT, PROVINCE], [ROOT, OTHER_PROVINCE]
    upper, school = [*province, UPPER], [*province, UPPER, SCHOOL]
    return [
        union_event([ROOT], UnionLevel.NATIONAL),
        union_event(province, UnionLevel.PROVINCE, head=HEAD),
        union_event(other, UnionLevel.PROVINCE, head=HEAD),
        union_event(upper, UnionLevel.UPPER_LEVEL, head=HEAD),
        union_event(school, UnionLevel.GRASSROOTS, head=HEAD),
        dak_lak_campaign(NOTIFIER_CAMPAIGN, province),
        target_event(NOTIFIER_CAMPAIGN, upper, assigned=40),
        target_event(NOTIFIER_CAMPAIGN, school, assigned=40),
    ]


async def notifier_call(
    client: httpx.AsyncClient, callers: Callers, endpoint: str, caller: str
) -> httpx.Response:
    """One call of ``endpoint`` as ``caller``, about a Đắk Lắk unit."""
    auth, root = callers.headers(caller), callers.headers("root")
    method, _, path = endpoint.partition(" ")
    body: Any = None
    params: dict[str, str] = {}
    if endpoint == "GET /deliveries":
        params = {"recipient_union_id": UPPER}
    elif endpoint == "POST /silences":
        body = {"unit_id": SCHOOL, "ends_at": "2022-05-31T17:00:00+07:00"}
        body |= {"author": "can-bo-01", "reason": "Các trường đang thi học kỳ"}
    elif endpoint == "DELETE /silences/{silence_id}":
        silence = {"unit_id": SCHOOL, "ends_at": "2022-05-31T17:00:00+07:00"}
        silence |= {"author": "can-bo-01", "reason": "Thi học kỳ"}
        created = await client.post("/silences", json=silence, headers=root)
        path = path.replace("{silence_id}", created.json()["id"])
    unit = UPPER if "digest" in path else SCHOOL
    path = path.format(campaign_id=NOTIFIER_CAMPAIGN, unit_id=unit)
    return await client.request(method, path, json=body, params=params, headers=auth)


async def test_notifier_access_per_role_and_scope(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    await publish_registry(settings, notifier_registry())
    async with token_service(tmp_path) as service:
        callers = await issue_callers(service)
        config = smtp_server.settings(
            **settings.model_dump()
            | {
                "notifier_database_url": f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
                "notifier_submission_url": service.url,
                "clock_start": datetime(2022, 5, 24, 8, tzinfo=ICT),
                "clock_speed": 0,
                "notifier_evaluation_interval_minutes": 10_000,
            }
        )
        app = create_notifier(config)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as client:
                await asyncio.wait_for(app.state.registry_ready.wait(), 20)
                seen = {
                    endpoint: tuple(
                        [
                            (await notifier_call(client, callers, endpoint, caller)).status_code
                            for caller in CALLERS
                        ]
                    )
                    for endpoint in NOTIFIER
                }

    assert mismatches(NOTIFIER, seen) == []
