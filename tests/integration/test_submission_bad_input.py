"""Bad input: one test per rule. Each gets a 4xx JSON error naming the field and the rule, and
nothing is created or changed (the initiatives and the outbox stay as they were)."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select
from submission_world import (
    CAMPAIGN,
    OTHER_SCHOOL,
    PAST_CAMPAIGN,
    SCHOOL,
    UPPER,
    World,
    initiative,
    running_world,
    submission_settings,
    utc,
)

from services.submission.adapters.tables import OutboxRow
from services.submission.domain.access import Role
from services.submission.service import tokens

pytestmark = pytest.mark.integration

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_HEADERS = [
    "Mã đợt",
    "Mã đơn vị",
    "Tên sáng kiến",
    "Lĩnh vực",
    "Tác giả",
    "Đối tượng",
    "Cấp công nhận",
    "Ngày công nhận",
    "Ngày áp dụng",
]


async def _count(world: World) -> int:
    """Initiatives stored anywhere (root's scope is the whole country)."""
    page = await world.get("/initiatives", who="root", limit=500)
    assert page.status_code == 200, page.text
    return len(page.json()["items"])


async def _outbox_size(world: World) -> int:
    async with world.app.state.uow.read_only() as session:
        return (await session.exec(select(func.count()).select_from(OutboxRow))).one()


def _first(response: httpx.Response) -> tuple[str, str]:
    problem = response.json()["problems"][0]
    return problem["field"], problem["rule"]


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _sheet_row(title: str, recognised_on: str | None = None) -> list[str]:
    today = date.today()
    return [
        CAMPAIGN,
        SCHOOL,
        title,
        "Giáo dục và đào tạo",
        "Nguyễn Thị Hoa",
        "Công chức, viên chức",
        "Hội đồng sáng kiến",
        recognised_on or _dmy(today - timedelta(days=3)),
        _dmy(today - timedelta(days=30)),
    ]


async def _import(world: World, content: bytes, content_type: str) -> httpx.Response:
    headers = {"Content-Type": content_type, **world.auth("importer")}
    return await world.client.post("/initiatives/import", content=content, headers=headers)


@pytest.fixture
async def small_world(tmp_path: Path) -> AsyncIterator[World]:
    """A world whose JSON bodies are limited to 2,000 bytes."""
    url = f"sqlite+aiosqlite:///{tmp_path}/small.db"
    async with running_world(submission_settings(url, submission_max_body_bytes=2000)) as w:
        yield w


# --- registration rules ----------------------------------------------------------------------


async def test_an_empty_title_is_refused(world: World) -> None:
    refused = await world.post("/initiatives", initiative(title="   "), who="officer")

    assert refused.status_code == 422
    assert _first(refused) == ("title", "string_too_short")
    assert await _count(world) == 0


async def test_a_title_over_300_characters_is_refused(world: World) -> None:
    refused = await world.post("/initiatives", initiative(title="ệ" * 301), who="officer")

    assert refused.status_code == 422
    assert _first(refused) == ("title", "string_too_long")
    assert await _count(world) == 0


async def test_the_title_limit_counts_characters_after_nfc(world: World) -> None:
    decomposed = unicodedata.normalize("NFD", "ệ" * 300)  # 900 code points, 300 characters

    created = await world.post("/initiatives", initiative(title=decomposed), who="officer")

    assert created.status_code == 201, created.text
    assert created.json()["title"] == "ệ" * 300


async def test_an_unknown_unit_is_not_found(world: World) -> None:
    refused = await world.post("/initiatives", initiative(union_id="cdcs-khong-co"), who="admin")

    assert refused.status_code == 404
    assert _first(refused) == ("union_id", "exists")
    assert await _count(world) == 0


async def test_an_unknown_campaign_is_not_found(world: World) -> None:
    refused = await world.post("/initiatives", initiative(campaign_id="dot-khong-co"), who="admin")

    assert refused.status_code == 404
    assert _first(refused) == ("campaign_id", "exists")
    assert await _count(world) == 0


async def test_a_unit_that_is_not_grassroots_is_refused(world: World) -> None:
    refused = await world.post("/initiatives", initiative(union_id=UPPER), who="officer")

    assert refused.status_code == 422
    assert _first(refused) == ("union_id", "grassroots")
    assert await _count(world) == 0


async def test_a_unit_outside_the_campaign_organiser_is_refused(world: World) -> None:
    refused = await world.post("/initiatives", initiative(union_id=OTHER_SCHOOL), who="root")

    assert refused.status_code == 422
    assert _first(refused) == ("campaign_id", "scope")
    assert await _count(world) == 0


async def test_a_back_dated_submission_before_the_campaign_is_refused(world: World) -> None:
    body = initiative(submitted_at=utc(2021, 6, 1, 3), recognised_on="2021-05-01")

    refused = await world.post("/initiatives", body, who="importer")

    assert refused.status_code == 422
    assert _first(refused) == ("submitted_at", "campaign_running")
    assert await _count(world) == 0


async def test_a_campaign_that_has_ended_takes_no_submission_today(world: World) -> None:
    refused = await world.post("/initiatives", initiative(campaign_id=PAST_CAMPAIGN), who="admin")

    assert refused.status_code == 422
    assert _first(refused) == ("submitted_at", "campaign_running")
    assert await _count(world) == 0


async def test_an_application_date_outside_the_eligibility_window_is_refused(
    world: World,
) -> None:
    too_early = (date.today() - timedelta(days=400)).isoformat()

    refused = await world.post(
        "/initiatives", initiative(application_date=too_early), who="officer"
    )

    assert refused.status_code == 422
    assert _first(refused) == ("application_date", "eligibility_window")
    assert await _count(world) == 0


async def test_recognition_after_the_submission_day_is_refused(world: World) -> None:
    tomorrow = (datetime.now(VIETNAM).date() + timedelta(days=1)).isoformat()

    refused = await world.post("/initiatives", initiative(recognised_on=tomorrow), who="officer")

    assert refused.status_code == 422
    assert _first(refused) == ("recognised_on", "not_after_submission")
    assert await _count(world) == 0


async def test_a_submission_time_in_the_future_is_refused(world: World) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    refused = await world.post("/initiatives", initiative(submitted_at=tomorrow), who="importer")

    assert refused.status_code == 422
    assert _first(refused) == ("submitted_at", "not_in_future")
    assert await _count(world) == 0


async def test_a_submission_time_without_an_offset_is_refused(world: World) -> None:
    naive = (datetime.now() - timedelta(hours=1)).replace(tzinfo=None).isoformat()

    refused = await world.post("/initiatives", initiative(submitted_at=naive), who="importer")

    assert refused.status_code == 422
    assert _first(refused) == ("submitted_at", "timezone_aware")
    assert await _count(world) == 0


async def test_an_unknown_field_is_refused_by_name(world: World) -> None:
    refused = await world.post("/initiatives", initiative(mau_sac="đỏ"), who="officer")

    assert refused.status_code == 422
    assert _first(refused) == ("mau_sac", "extra_forbidden")
    assert await _count(world) == 0


async def test_a_missing_author_list_is_refused(world: World) -> None:
    refused = await world.post("/initiatives", initiative(authors=[]), who="officer")

    assert refused.status_code == 422
    assert _first(refused) == ("authors", "too_short")
    assert await _count(world) == 0


# --- the request itself ----------------------------------------------------------------------


async def test_a_body_over_the_size_limit_is_refused(small_world: World) -> None:
    large = initiative(summary="Nội dung chi tiết của sáng kiến. " * 80)

    refused = await small_world.post("/initiatives", large, who="officer")
    small = await small_world.post("/initiatives", initiative(), who="officer")

    assert refused.status_code == 413
    assert _first(refused) == ("body", "max_size")
    assert small.status_code == 201  # the limit, not the content, refused the large one
    assert await _count(small_world) == 1


def _chunked(body: object) -> AsyncIterator[bytes]:
    """A body sent in pieces without a Content-Length, so the limit must count what arrives."""
    payload = json.dumps(body).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 500):
            yield payload[start : start + 500]

    return chunks()


async def test_a_streamed_body_over_the_size_limit_is_refused(small_world: World) -> None:
    large = initiative(summary="Nội dung chi tiết của sáng kiến. " * 80)

    refused = await small_world.client.post(
        "/initiatives",
        content=_chunked(large),
        headers={"Content-Type": "application/json", **small_world.auth("officer")},
    )

    assert refused.status_code == 413
    assert _first(refused) == ("body", "max_size")


async def test_a_streamed_batch_over_the_size_limit_is_refused(small_world: World) -> None:
    refused = await small_world.client.post(
        "/initiatives/batch",
        content=_chunked({"initiatives": [initiative()] * 10}),
        headers={"Content-Type": "application/json", **small_world.auth("officer")},
    )

    assert refused.status_code == 413
    assert _first(refused) == ("body", "max_size")
    assert await _count(small_world) == 0


async def test_a_wrong_content_type_is_refused(world: World) -> None:
    refused = await world.client.post(
        "/initiatives",
        content=json.dumps(initiative()).encode(),
        headers={"Content-Type": "text/plain", **world.auth("officer")},
    )

    assert refused.status_code == 415
    assert _first(refused) == ("content-type", "accepted")
    assert await _count(world) == 0


async def test_malformed_json_is_refused_naming_the_body(world: World) -> None:
    refused = await world.client.post(
        "/initiatives/batch",
        content=b'{"initiatives": [{"title": ',
        headers={"Content-Type": "application/json", **world.auth("officer")},
    )

    assert refused.status_code == 400
    assert _first(refused) == ("body", "json")
    assert await _count(world) == 0


async def test_malformed_json_for_one_initiative_is_refused_naming_the_body(
    world: World,
) -> None:
    refused = await world.client.post(
        "/initiatives",
        content=b'{"title": "x", ',
        headers={"Content-Type": "application/json", **world.auth("officer")},
    )

    assert refused.status_code in (400, 422)
    assert _first(refused)[0] == "body"
    assert await _count(world) == 0


# --- spreadsheets ----------------------------------------------------------------------------


async def test_a_malformed_csv_row_is_reported_and_the_good_rows_are_created(
    world: World,
) -> None:
    rows = [
        SHEET_HEADERS,
        _sheet_row("Sáng kiến số hoá hồ sơ"),
        _sheet_row("Sáng kiến ngày sai", recognised_on="31/02/2022"),
        _sheet_row("Sáng kiến thư viện số"),
    ]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    content = text.getvalue().encode()

    report = await _import(world, content, "text/csv")

    assert report.status_code == 200, report.text
    assert (report.json()["created"], report.json()["failed"]) == (2, 1)
    bad = report.json()["rows"][1]
    assert (bad["row"], bad["status"]) == (3, "error")
    assert bad["problems"][0]["field"] == "recognised_on"
    assert await _count(world) == 2


async def test_an_excel_sheet_with_a_formula_is_refused(world: World) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(SHEET_HEADERS)
    sheet.append(_sheet_row("Sáng kiến có công thức"))
    sheet["C2"] = '=CONCAT("Sáng ", "kiến")'
    buffer = io.BytesIO()
    workbook.save(buffer)

    refused = await _import(world, buffer.getvalue(), XLSX)

    assert refused.status_code == 422
    assert _first(refused) == ("C", "no_formulas")
    assert refused.json()["problems"][0]["row"] == 2
    assert await _count(world) == 0


# --- review ----------------------------------------------------------------------------------


async def test_an_illegal_review_transition_is_a_conflict(world: World) -> None:
    created = (await world.post("/initiatives", initiative(), who="officer")).json()
    await world.post(f"/initiatives/{created['id']}/withdraw", {}, who="officer")

    refused = await world.post(
        f"/initiatives/{created['id']}/review", {"decision": "valid"}, who="officer"
    )

    assert refused.status_code == 409
    assert _first(refused) == ("status", "transition")
    read = await world.get(f"/initiatives/{created['id']}")
    assert read.json()["status"] == "withdrawn"


async def test_review_of_an_unknown_initiative_is_not_found(world: World) -> None:
    refused = await world.post(
        f"/initiatives/{uuid.uuid4()}/review", {"decision": "valid"}, who="officer"
    )

    assert refused.status_code == 404
    assert _first(refused) == ("initiative_id", "exists")


async def test_an_initiative_id_that_is_not_a_uuid_is_refused(world: World) -> None:
    refused = await world.get("/initiatives/khong-phai-uuid")

    assert refused.status_code == 422
    assert _first(refused) == ("initiative_id", "uuid_parsing")


async def test_a_wrong_decision_value_is_refused(world: World) -> None:
    created = (await world.post("/initiatives", initiative(), who="officer")).json()

    refused = await world.post(
        f"/initiatives/{created['id']}/review", {"decision": "approved"}, who="officer"
    )

    assert refused.status_code == 422
    assert _first(refused) == ("decision", "enum")
    read = await world.get(f"/initiatives/{created['id']}")
    assert read.json()["status"] == "submitted"


# --- authentication --------------------------------------------------------------------------


async def test_a_missing_bearer_token_is_unauthorized(world: World) -> None:
    refused = await world.client.post("/initiatives", json=initiative())

    assert refused.status_code == 401
    assert _first(refused) == ("authorization", "bearer_token")
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert await _count(world) == 0


async def test_an_unknown_token_is_unauthorized(world: World) -> None:
    refused = await world.client.post(
        "/initiatives", json=initiative(), headers={"Authorization": "Bearer sk_khong-co-that"}
    )

    assert refused.status_code == 401
    assert _first(refused) == ("authorization", "bearer_token")
    assert await _count(world) == 0


async def test_an_expired_token_is_unauthorized(world: World) -> None:
    async with world.app.state.uow.transaction() as session:
        issued = await tokens.issue(
            session,
            role=Role.OFFICER,
            scope_union_id=UPPER,
            actor_id="expired-01",
            label="hết hạn",
            valid_for=timedelta(seconds=-1),
        )

    refused = await world.client.post(
        "/initiatives", json=initiative(), headers={"Authorization": f"Bearer {issued.token}"}
    )

    assert refused.status_code == 401
    assert _first(refused) == ("authorization", "bearer_token")
    assert await _count(world) == 0


# --- nothing stored is touched ---------------------------------------------------------------


async def test_bad_requests_leave_a_stored_initiative_and_the_outbox_untouched(
    world: World,
) -> None:
    created = (await world.post("/initiatives", initiative(), who="officer")).json()
    path = f"/initiatives/{created['id']}"
    before = (await world.get(path)).json()
    staged = await _outbox_size(world)

    refusals = [
        await world.post(f"{path}/review", {"decision": "maybe"}, who="officer"),
        await world.post(f"{path}/review", {"decision": "valid", "x": 1}, who="officer"),
        await world.post(
            f"{path}/review", {"decision": "valid", "note": "n" * 1001}, who="officer"
        ),
        await world.post(f"{path}/review", {"decision": "valid"}, who="importer"),
        await world.post(f"{path}/review", {"decision": "valid"}, who="outsider"),
        await world.post(f"{path}/withdraw", {"reason": ""}, who="officer"),
    ]

    assert [r.status_code for r in refusals] == [422, 422, 422, 403, 403, 422]
    assert (await world.get(path)).json() == before
    assert await _outbox_size(world) == staged
