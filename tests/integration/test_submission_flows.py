"""The submission service's use cases over HTTP, stored for real (SQLite and PostgreSQL)."""

from __future__ import annotations

import unicodedata

import pytest
from sqlmodel import col, select
from submission_world import CAMPAIGN, PROVINCE, ROOT, SCHOOL, SCHOOL_2, UPPER, World, initiative

from services.submission.adapters.tables import OutboxRow
from shared.events import decode

pytestmark = pytest.mark.integration


async def _outbox(world: World) -> list[OutboxRow]:
    async with world.app.state.uow.read_only() as session:
        return list((await session.exec(select(OutboxRow).order_by(col(OutboxRow.id)))).all())


async def test_a_registration_is_stored_with_its_history_and_its_event_staged(
    any_db_world: World,
) -> None:
    created = await any_db_world.post("/initiatives", initiative(), who="officer")
    read = await any_db_world.get(f"/initiatives/{created.json()['id']}", who="viewer")

    assert created.status_code == 201, created.text
    assert read.json()["status"] == "submitted"
    assert [step["status"] for step in read.json()["history"]] == ["submitted"]
    assert read.json()["union_path"] == [ROOT, PROVINCE, UPPER, SCHOOL]
    event = decode((await _outbox(any_db_world))[-1].payload.encode())
    assert event.type == "innovation.submitted.v1"
    assert str(event.data.initiative_id) == created.json()["id"]  # type: ignore[union-attr]
    assert "Nguyễn" not in (await _outbox(any_db_world))[-1].payload  # names stay in the database


async def test_vietnamese_text_round_trips_exactly_in_nfc(any_db_world: World) -> None:
    decomposed = unicodedata.normalize("NFD", "Sáng kiến đổi mới phương pháp dạy học Ngữ văn")
    created = await any_db_world.post("/initiatives", initiative(title=decomposed), who="officer")

    title = (await any_db_world.get(f"/initiatives/{created.json()['id']}")).json()["title"]

    assert title == unicodedata.normalize("NFC", decomposed)


async def test_review_marks_valid_and_a_second_review_is_refused(any_db_world: World) -> None:
    created = (await any_db_world.post("/initiatives", initiative(), who="officer")).json()

    reviewed = await any_db_world.post(
        f"/initiatives/{created['id']}/review", {"decision": "valid", "note": "Đạt"}, who="officer"
    )
    again = await any_db_world.post(
        f"/initiatives/{created['id']}/review", {"decision": "rejected"}, who="officer"
    )

    assert reviewed.json()["status"] == "valid"
    assert [s["status"] for s in reviewed.json()["history"]] == ["submitted", "valid"]
    assert again.status_code == 409
    assert again.json()["problems"][0]["rule"] == "transition"


async def test_withdrawal_is_allowed_only_before_review(world: World) -> None:
    first = (await world.post("/initiatives", initiative(), who="officer")).json()
    second = (
        await world.post("/initiatives", initiative(title="Một sáng kiến khác hẳn"), who="officer")
    ).json()
    await world.post(f"/initiatives/{second['id']}/review", {"decision": "rejected"}, who="officer")

    withdrawn = await world.post(
        f"/initiatives/{first['id']}/withdraw", {"reason": "Tác giả rút"}, who="officer"
    )
    refused = await world.post(f"/initiatives/{second['id']}/withdraw", {}, who="officer")

    assert withdrawn.json()["status"] == "withdrawn"
    assert refused.status_code == 409


async def test_a_likely_duplicate_by_the_same_author_is_registered_and_flagged(
    world: World,
) -> None:
    hoa = [{"name": "Nguyễn Thị Hoa", "category": "public_service_staff", "identifier": "GV-001"}]
    original = (await world.post("/initiatives", initiative(authors=hoa), who="officer")).json()
    similar = initiative(
        union_id=SCHOOL_2, title="Cải tiến quy trình tiếp nhận hồ sơ học sinh.", authors=hoa
    )
    other_author = initiative(
        authors=[{"name": "Trần Văn Nam", "category": "public_service_staff"}]
    )

    flagged = await world.post("/initiatives", similar, who="officer")
    not_flagged = await world.post("/initiatives", other_author, who="officer")

    assert flagged.status_code == 201
    assert flagged.json()["possible_duplicate_of"] == original["id"]
    assert not_flagged.json()["possible_duplicate_of"] is None
    listed = (await world.get("/initiatives", flagged_only="true")).json()["items"]
    assert [item["id"] for item in listed] == [flagged.json()["id"]]


async def test_a_batch_reports_each_row_and_registers_the_good_ones(world: World) -> None:
    rows = [initiative(title=f"Sáng kiến số {n}") for n in range(3)]
    rows.insert(1, initiative(title=""))
    rows.append(initiative(union_id=UPPER))

    report = await world.post("/initiatives/batch", {"initiatives": rows}, who="officer")

    assert report.status_code == 200, report.text
    assert (report.json()["created"], report.json()["failed"]) == (3, 2)
    statuses = [(row["row"], row["status"]) for row in report.json()["rows"]]
    assert statuses == [(1, "created"), (2, "error"), (3, "created"), (4, "created"), (5, "error")]
    assert report.json()["rows"][1]["problems"][0]["field"] == "title"
    assert report.json()["rows"][4]["problems"][0]["rule"] == "grassroots"


async def test_an_external_reference_makes_a_re_upload_create_nothing(world: World) -> None:
    rows = [initiative(title=f"Sáng kiến {n}", external_ref=f"STT-{n}") for n in range(3)]

    first = await world.post("/initiatives/batch", {"initiatives": rows}, who="importer")
    second = await world.post("/initiatives/batch", {"initiatives": rows}, who="importer")

    assert first.json()["created"] == 3
    assert (second.json()["created"], second.json()["already_registered"]) == (0, 3)
    assert [r["id"] for r in second.json()["rows"]] == [r["id"] for r in first.json()["rows"]]


async def test_lists_are_paged_newest_first_and_filtered(world: World) -> None:
    for n in range(5):
        await world.post(
            "/initiatives",
            initiative(title=f"Sáng kiến {n}", union_id=SCHOOL if n % 2 else SCHOOL_2),
            who="officer",
        )

    first = (await world.get("/initiatives", limit=2)).json()
    second = (await world.get("/initiatives", limit=2, cursor=first["next_cursor"])).json()
    third = (await world.get("/initiatives", limit=2, cursor=second["next_cursor"])).json()
    at_school = (await world.get("/initiatives", union_id=SCHOOL)).json()["items"]

    titles = [i["title"] for page in (first, second, third) for i in page["items"]]
    assert titles == [f"Sáng kiến {n}" for n in reversed(range(5))]
    assert third["next_cursor"] is None
    assert {i["union_id"] for i in at_school} == {SCHOOL}
    assert len(at_school) == 2


async def test_a_target_change_is_kept_with_who_when_from_to_and_why(any_db_world: World) -> None:
    path = f"/campaigns/{CAMPAIGN}/targets/{PROVINCE}"
    await any_db_world.client.put(
        path, json={"assigned_target": 2500}, headers=any_db_world.auth("admin")
    )
    changed = await any_db_world.client.put(
        path,
        json={"own_target": 3000, "reason": "Tỉnh tự đăng ký cao hơn"},
        headers=any_db_world.auth("admin"),
    )
    await any_db_world.client.put(
        f"/campaigns/{CAMPAIGN}/targets/{UPPER}",
        json={"assigned_target": 900},
        headers=any_db_world.auth("admin"),
    )

    target = (await any_db_world.get(path)).json()

    assert changed.status_code == 200, changed.text
    assert (target["assigned_target"], target["own_target"]) == (2500, 3000)
    assert (target["children_assigned_total"], target["children_with_target"]) == (900, 1)
    last = target["history"][-1]
    assert (last["previous_own_target"], last["own_target"], last["changed_by"]) == (
        None,
        3000,
        "admin-01",
    )
    assert last["reason"] == "Tỉnh tự đăng ký cao hơn"
    events = [decode(row.payload.encode()) for row in await _outbox(any_db_world)]
    assert [e.type for e in events].count("target.set.v1") == 3


async def test_a_hierarchy_import_with_problems_reports_every_row_and_writes_nothing(
    any_db_world: World,
) -> None:
    units = [
        {
            "id": "dak-lak-y-te",
            "name": "Công đoàn ngành Y tế",
            "parent_id": PROVINCE,
            "level": "upper_level",
        },
        {
            "id": "cdcs-benh-vien",
            "name": "CĐCS Bệnh viện",
            "parent_id": "khong-co",
            "level": "grassroots",
        },
        {
            "id": "cdcs-sai-cap",
            "name": "CĐCS sai cấp",
            "parent_id": "cdcs-benh-vien",
            "level": "province",
        },
        {"id": "dak-lak-y-te", "name": "Trùng mã", "parent_id": PROVINCE, "level": "upper_level"},
    ]

    refused = await any_db_world.post("/units/import", {"units": units})
    after = await any_db_world.get("/units/dak-lak-y-te")

    assert refused.status_code == 422
    assert {(p["row"], p["rule"]) for p in refused.json()["problems"]} >= {
        (2, "exists"),
        (3, "hierarchy"),
        (4, "unique"),
    }
    assert after.status_code == 404


async def test_a_hierarchy_import_writes_parents_before_children(any_db_world: World) -> None:
    units = [
        {
            "id": "cdcs-benh-vien-da-khoa",
            "name": "CĐCS Bệnh viện Đa khoa tỉnh",
            "parent_id": "dak-lak-y-te",
            "level": "grassroots",
        },
        {
            "id": "dak-lak-y-te",
            "name": "Công đoàn ngành Y tế Đắk Lắk",
            "parent_id": PROVINCE,
            "level": "upper_level",
            "members": 5200,
        },
    ]

    report = await any_db_world.post("/units/import", {"units": units})
    subtree = (await any_db_world.get("/units/dak-lak-y-te/subtree")).json()["items"]

    assert report.json() == {"created": 2, "updated": 0}
    assert [u["id"] for u in subtree] == ["dak-lak-y-te", "cdcs-benh-vien-da-khoa"]
    assert subtree[1]["path"] == [ROOT, PROVINCE, "dak-lak-y-te", "cdcs-benh-vien-da-khoa"]


async def test_a_unit_update_changes_its_head_and_publishes_the_new_state(world: World) -> None:
    head = {"name": "Lê Văn Minh", "email": "minh@congdoan.vn", "alert_channels": ["email"]}

    updated = await world.client.patch(
        f"/units/{SCHOOL}", json={"members": 85, "head": head}, headers=world.auth("admin")
    )
    children = (await world.get(f"/units/{UPPER}/children")).json()["items"]

    assert updated.json()["head"]["email"] == "minh@congdoan.vn"
    assert [c["id"] for c in children] == [SCHOOL, SCHOOL_2]
    assert decode((await _outbox(world))[-1].payload.encode()).data.members == 85  # type: ignore[union-attr]
