"""Access: each role against each endpoint, inside and outside its scope; revoked tokens; tokens
never logged; a head's contacts shown only inside the caller's scope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from submission_world import (
    CAMPAIGN,
    OTHER_PROVINCE,
    OTHER_SCHOOL,
    PROVINCE,
    SCHOOL,
    SCHOOL_2,
    UPPER,
    World,
    initiative,
)

pytestmark = pytest.mark.integration

Call = Callable[[World, str], Awaitable[httpx.Response]]
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def _unit(unit_id: str, parent: str, level: str = "grassroots") -> dict[str, object]:
    return {"id": unit_id, "name": f"Công đoàn {unit_id}", "parent_id": parent, "level": level}


def _campaign(campaign_id: str, organiser: str) -> dict[str, object]:
    today = date.today()
    return {
        "id": campaign_id,
        "name": "Tháng cao điểm sáng kiến",
        "organiser_id": organiser,
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
        "eligible_from": (today - timedelta(days=365)).isoformat(),
        "eligible_to": (today + timedelta(days=30)).isoformat(),
    }


def _token_request(scope: str) -> dict[str, object]:
    return {"role": "officer", "scope_union_id": scope, "actor_id": "new-01", "label": "Tổ mới"}


def _backdated() -> dict[str, object]:
    """A paper form of five days ago, typed in today."""
    day = date.today() - timedelta(days=5)
    submitted_at = datetime.combine(day, time(8), tzinfo=VIETNAM).isoformat()
    recognised_on = (day - timedelta(days=3)).isoformat()
    return initiative(submitted_at=submitted_at, recognised_on=recognised_on)


def _csv() -> bytes:
    today = date.today()
    header = "Mã đợt,Mã đơn vị,Tên sáng kiến,Lĩnh vực,Tác giả,Đối tượng,Cấp công nhận,"
    header += "Ngày công nhận,Ngày áp dụng"
    recognised = (today - timedelta(days=3)).strftime("%d/%m/%Y")
    applied = (today - timedelta(days=30)).strftime("%d/%m/%Y")
    row = f"{CAMPAIGN},{SCHOOL},Sáng kiến nhập từ bảng tính,Giáo dục,Trần Văn Nam,CCVC,"
    row += f"Hội đồng sáng kiến,{recognised},{applied}"
    return f"{header}\n{row}\n".encode()


async def _registered(world: World) -> str:
    created = await world.post("/initiatives", initiative(), who="admin")
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _token_id(world: World, issuer: str, scope: str) -> str:
    issued = await world.post("/tokens", _token_request(scope), who=issuer)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["id"])


def _send(method: str, path: str, body: Callable[[], object] | None = None) -> Call:
    """A call of ``method`` on ``path`` with a fresh body, as the caller named ``who``."""

    async def call(world: World, who: str) -> httpx.Response:
        payload = body() if body is not None else None
        return await world.client.request(method, path, json=payload, headers=world.auth(who))

    return call


async def _review(world: World, who: str) -> httpx.Response:
    return await world.post(
        f"/initiatives/{await _registered(world)}/review", {"decision": "valid"}, who=who
    )


async def _withdraw(world: World, who: str) -> httpx.Response:
    return await world.post(f"/initiatives/{await _registered(world)}/withdraw", {}, who=who)


async def _read_one(world: World, who: str) -> httpx.Response:
    return await world.get(f"/initiatives/{await _registered(world)}", who=who)


async def _import(world: World, who: str) -> httpx.Response:
    headers = {"Content-Type": "text/csv", **world.auth(who)}
    return await world.client.post("/initiatives/import", content=_csv(), headers=headers)


def _revoke(issuer: str, scope: str) -> Call:
    """Revoke a token that ``issuer`` has just issued over ``scope``."""

    async def call(world: World, who: str) -> httpx.Response:
        token_id = await _token_id(world, issuer, scope)
        return await world.client.delete(f"/tokens/{token_id}", headers=world.auth(who))

    return call


CALLS: dict[str, Call] = {
    "create-unit": _send("POST", "/units", lambda: _unit("cdcs-moi", UPPER)),
    "create-unit-in-ha-noi": _send("POST", "/units", lambda: _unit("cdcs-moi", OTHER_PROVINCE)),
    "update-unit": _send("PATCH", f"/units/{SCHOOL}", lambda: {"members": 90}),
    "update-unit-in-ha-noi": _send("PATCH", f"/units/{OTHER_SCHOOL}", lambda: {"members": 90}),
    "import-units": _send(
        "POST", "/units/import", lambda: {"units": [_unit("y-te", PROVINCE, "upper_level")]}
    ),
    "create-campaign": _send("POST", "/campaigns", lambda: _campaign("thang-5", PROVINCE)),
    "create-campaign-in-ha-noi": _send(
        "POST", "/campaigns", lambda: _campaign("thang-5", OTHER_PROVINCE)
    ),
    "set-target": _send(
        "PUT", f"/campaigns/{CAMPAIGN}/targets/{UPPER}", lambda: {"assigned_target": 900}
    ),
    "set-target-in-ha-noi": _send(
        "PUT", f"/campaigns/{CAMPAIGN}/targets/{OTHER_PROVINCE}", lambda: {"assigned_target": 9}
    ),
    "issue-token": _send("POST", "/tokens", lambda: _token_request(SCHOOL)),
    "issue-token-in-ha-noi": _send("POST", "/tokens", lambda: _token_request(OTHER_SCHOOL)),
    "revoke-token": _revoke("admin", UPPER),
    "revoke-token-in-ha-noi": _revoke("root", OTHER_SCHOOL),
    "register": _send("POST", "/initiatives", initiative),
    "register-sibling": _send("POST", "/initiatives", lambda: initiative(union_id=SCHOOL_2)),
    "register-in-ha-noi": _send("POST", "/initiatives", lambda: initiative(union_id=OTHER_SCHOOL)),
    "backdate": _send("POST", "/initiatives", _backdated),
    "batch": _send("POST", "/initiatives/batch", lambda: {"initiatives": [initiative()]}),
    "import": _import,
    "review": _review,
    "withdraw": _withdraw,
    "read-one": _read_one,
    "list": _send("GET", "/initiatives"),
    "list-dak-lak": _send("GET", f"/initiatives?union_id={PROVINCE}"),
}

# (who, call, expected status, rule of the refusal); admin and viewer are Đắk Lắk's, officer is
# the education union's, importer one school's, outsider an officer of Hà Nội, root national.
MATRIX: list[tuple[str, str, int, str | None]] = [
    ("admin", "create-unit", 201, None),
    ("root", "create-unit", 201, None),
    ("officer", "create-unit", 403, "role"),
    ("importer", "create-unit", 403, "role"),
    ("viewer", "create-unit", 403, "role"),
    ("root", "create-unit-in-ha-noi", 201, None),
    ("admin", "create-unit-in-ha-noi", 403, "scope"),
    ("outsider", "create-unit-in-ha-noi", 403, "role"),
    ("admin", "update-unit", 200, None),
    ("officer", "update-unit", 403, "role"),
    ("importer", "update-unit", 403, "role"),
    ("viewer", "update-unit", 403, "role"),
    ("root", "update-unit-in-ha-noi", 200, None),
    ("admin", "update-unit-in-ha-noi", 403, "scope"),
    ("admin", "import-units", 200, None),
    ("officer", "import-units", 403, "role"),
    ("importer", "import-units", 403, "role"),
    ("viewer", "import-units", 403, "role"),
    ("admin", "create-campaign", 201, None),
    ("officer", "create-campaign", 403, "role"),
    ("importer", "create-campaign", 403, "role"),
    ("viewer", "create-campaign", 403, "role"),
    ("root", "create-campaign-in-ha-noi", 201, None),
    ("admin", "create-campaign-in-ha-noi", 403, "scope"),
    ("admin", "set-target", 200, None),
    ("officer", "set-target", 403, "role"),
    ("importer", "set-target", 403, "role"),
    ("viewer", "set-target", 403, "role"),
    ("admin", "set-target-in-ha-noi", 403, "scope"),
    ("admin", "issue-token", 201, None),
    ("officer", "issue-token", 403, "role"),
    ("importer", "issue-token", 403, "role"),
    ("viewer", "issue-token", 403, "role"),
    ("root", "issue-token-in-ha-noi", 201, None),
    ("admin", "issue-token-in-ha-noi", 403, "scope"),
    ("admin", "revoke-token", 204, None),
    ("officer", "revoke-token", 403, "role"),
    ("viewer", "revoke-token", 403, "role"),
    ("root", "revoke-token-in-ha-noi", 204, None),
    ("admin", "revoke-token-in-ha-noi", 403, "scope"),
    ("admin", "register", 201, None),
    ("officer", "register", 201, None),
    ("importer", "register", 201, None),
    ("viewer", "register", 403, "role"),
    ("outsider", "register", 403, "scope"),
    ("officer", "register-sibling", 201, None),
    ("importer", "register-sibling", 403, "scope"),
    ("officer", "register-in-ha-noi", 403, "scope"),
    ("admin", "register-in-ha-noi", 403, "scope"),
    ("importer", "backdate", 201, None),
    ("officer", "backdate", 403, "role"),
    ("admin", "backdate", 403, "role"),
    ("viewer", "backdate", 403, "role"),
    ("admin", "batch", 200, None),
    ("officer", "batch", 200, None),
    ("importer", "batch", 200, None),
    ("viewer", "batch", 403, "role"),
    ("admin", "import", 200, None),
    ("officer", "import", 200, None),
    ("importer", "import", 200, None),
    ("viewer", "import", 403, "role"),
    ("admin", "review", 200, None),
    ("officer", "review", 200, None),
    ("root", "review", 200, None),
    ("importer", "review", 403, "role"),
    ("viewer", "review", 403, "role"),
    ("outsider", "review", 403, "scope"),
    ("admin", "withdraw", 200, None),
    ("officer", "withdraw", 200, None),
    ("importer", "withdraw", 403, "role"),
    ("viewer", "withdraw", 403, "role"),
    ("outsider", "withdraw", 403, "scope"),
    ("viewer", "read-one", 200, None),
    ("importer", "read-one", 200, None),
    ("officer", "read-one", 200, None),
    ("outsider", "read-one", 403, "scope"),
    ("viewer", "list", 200, None),
    ("outsider", "list", 200, None),
    ("viewer", "list-dak-lak", 200, None),
    ("outsider", "list-dak-lak", 403, "scope"),
    ("importer", "list-dak-lak", 403, "scope"),
]


CASES = [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]}") for case in MATRIX]


@pytest.mark.parametrize(("who", "call", "status", "rule"), CASES)
async def test_access_matrix(
    world: World, who: str, call: str, status: int, rule: str | None
) -> None:
    response = await CALLS[call](world, who)

    assert response.status_code == status, response.text
    if rule is not None:
        assert response.json()["problems"][0]["rule"] == rule
    if status == 200 and "failed" in response.json():  # a batch or import: every row taken
        assert response.json()["failed"] == 0, response.text


async def test_a_refused_registry_change_writes_nothing(world: World) -> None:
    refused = await world.post("/units", _unit("cdcs-moi", UPPER), who="officer")

    assert refused.status_code == 403
    assert (await world.get("/units/cdcs-moi")).status_code == 404


async def test_a_batch_row_outside_the_callers_subtree_is_refused_by_row(world: World) -> None:
    rows = [initiative(), initiative(union_id=OTHER_SCHOOL)]

    report = await world.post("/initiatives/batch", {"initiatives": rows}, who="officer")

    assert (report.json()["created"], report.json()["failed"]) == (1, 1)
    assert report.json()["rows"][1]["problems"][0]["rule"] == "scope"


async def test_submitted_at_defaults_to_now(world: World) -> None:
    before = datetime.now(UTC)
    created = await world.post("/initiatives", initiative(), who="officer")
    after = datetime.now(UTC)

    submitted_at = datetime.fromisoformat(created.json()["submitted_at"])
    if submitted_at.tzinfo is None:  # SQLite gives back naive UTC
        submitted_at = submitted_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= submitted_at <= after + timedelta(seconds=1)


async def test_an_importer_back_dates_a_paper_form_to_its_own_date(world: World) -> None:
    body = _backdated()

    created = await world.post("/initiatives", body, who="importer")

    stored = datetime.fromisoformat(created.json()["submitted_at"])
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=UTC)
    assert stored == datetime.fromisoformat(str(body["submitted_at"]))


async def test_a_revoked_token_is_unauthorized_at_once(world: World) -> None:
    issued = (await world.post("/tokens", _token_request(UPPER), who="admin")).json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    before = await world.client.post("/initiatives", json=initiative(), headers=headers)

    revoked = await world.client.delete(f"/tokens/{issued['id']}", headers=world.auth("admin"))
    after = await world.client.post("/initiatives", json=initiative(), headers=headers)

    assert (before.status_code, revoked.status_code, after.status_code) == (201, 204, 401)
    assert after.json()["problems"][0]["rule"] == "bearer_token"


async def test_a_refused_revocation_leaves_the_token_working(world: World) -> None:
    issued = (await world.post("/tokens", _token_request(OTHER_SCHOOL), who="root")).json()

    refused = await world.client.delete(f"/tokens/{issued['id']}", headers=world.auth("admin"))
    still = await world.client.get(
        "/initiatives", headers={"Authorization": f"Bearer {issued['token']}"}
    )

    assert refused.status_code == 403
    assert still.status_code == 200


async def test_tokens_are_never_logged(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every record, SQL drivers' included
    issued = (await world.post("/tokens", _token_request(UPPER), who="admin")).json()
    new = {"Authorization": f"Bearer {issued['token']}"}
    await world.client.post("/initiatives", json=initiative(), headers=new)
    await world.client.post("/initiatives", json=initiative(union_id=UPPER), headers=new)
    await world.client.post("/units", json=_unit("cdcs-moi", UPPER), headers=new)
    await world.get("/initiatives", who="outsider", union_id=PROVINCE)
    await world.client.delete(f"/tokens/{issued['id']}", headers=world.auth("admin"))
    await world.client.get("/initiatives", headers=new)

    output = capsys.readouterr()
    logged = caplog.text + output.out + output.err
    # No record need be there: the SQL drivers' DEBUG lines (every parameter) are capped by
    # shared/logging.py, and the service logs no request; any line that is must hold no token.
    for token in [issued["token"], *world.tokens.values()]:
        assert token not in logged
        assert token.removeprefix("sk_") not in logged


CALLERS = {"admin": True, "viewer": True, "importer": True, "root": True, "outsider": False}


async def test_a_heads_contacts_are_shown_only_inside_the_callers_scope(world: World) -> None:
    head = {"name": "Lê Văn Minh", "email": "minh@congdoan.vn", "alert_channels": ["email"]}
    await world.client.patch(f"/units/{SCHOOL}", json={"head": head}, headers=world.auth("admin"))

    seen = {who: (await world.get(f"/units/{SCHOOL}", who=who)).json() for who in CALLERS}
    children = (await world.get(f"/units/{UPPER}/children", who="outsider")).json()["items"]

    assert {who: unit["head"] is not None for who, unit in seen.items()} == CALLERS
    assert seen["admin"]["head"]["email"] == "minh@congdoan.vn"
    assert seen["outsider"]["name"] == seen["admin"]["name"]  # the unit itself is public
    assert [c["head"] for c in children] == [None, None]
