"""Idempotency-Key: a retried write returns the first response and creates nothing; the same key
with another body is a conflict; keys belong to a token; concurrent retries make one record."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from submission_world import UPPER, World, initiative

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _postgres_made_outside_the_event_loop(request: pytest.FixtureRequest) -> None:
    """Start PostgreSQL and create this test's database from a sync fixture. ``any_db_world``
    asks for ``postgres_url`` from inside the running event loop, where the launcher's
    ``asyncio.run`` calls (readiness probe, CREATE DATABASE) cannot run."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("any_db_world") == "postgresql":
        request.getfixturevalue("postgres_url")


async def _count(world: World) -> int:
    """Initiatives stored anywhere (root's scope is the whole country)."""
    page = await world.get("/initiatives", who="root", limit=500)
    assert page.status_code == 200, page.text
    return len(page.json()["items"])


def _replayed(response: httpx.Response) -> bool:
    return response.headers.get("Idempotent-Replayed") == "true"


async def test_a_retry_with_the_same_key_returns_the_first_response_and_creates_nothing(
    any_db_world: World,
) -> None:
    body = initiative()

    first = await any_db_world.post(
        "/initiatives", body, who="officer", **{"Idempotency-Key": "a1"}
    )
    retry = await any_db_world.post(
        "/initiatives", body, who="officer", **{"Idempotency-Key": "a1"}
    )

    assert (first.status_code, retry.status_code) == (201, 201), first.text
    assert retry.json() == first.json()
    assert (_replayed(first), _replayed(retry)) == (False, True)
    assert await _count(any_db_world) == 1


async def test_the_same_key_with_another_body_is_a_conflict(world: World) -> None:
    key = {"Idempotency-Key": "a2"}
    await world.post("/initiatives", initiative(), who="officer", **key)

    refused = await world.post("/initiatives", initiative(title="Tên khác"), who="officer", **key)

    assert refused.status_code == 409
    problem = refused.json()["problems"][0]
    assert (problem["field"], problem["rule"]) == ("Idempotency-Key", "same_request")
    assert await _count(world) == 1


async def test_the_same_key_on_another_path_is_a_conflict(world: World) -> None:
    key = {"Idempotency-Key": "a3"}
    created = (await world.post("/initiatives", initiative(), who="officer", **key)).json()

    refused = await world.post(f"/initiatives/{created['id']}/withdraw", {}, who="officer", **key)

    assert refused.status_code == 409
    assert refused.json()["problems"][0]["field"] == "Idempotency-Key"
    assert (await world.get(f"/initiatives/{created['id']}")).json()["status"] == "submitted"


async def test_keys_belong_to_a_token(world: World) -> None:
    body, key = initiative(), {"Idempotency-Key": "a4"}

    by_officer = await world.post("/initiatives", body, who="officer", **key)
    by_admin = await world.post("/initiatives", body, who="admin", **key)

    assert (by_officer.status_code, by_admin.status_code) == (201, 201)
    assert by_admin.json()["id"] != by_officer.json()["id"]
    assert not _replayed(by_admin)
    assert await _count(world) == 2


async def test_a_batch_retried_with_its_key_creates_nothing_new(world: World) -> None:
    rows = {"initiatives": [initiative(title=f"Sáng kiến {n}") for n in range(3)]}
    key = {"Idempotency-Key": "lo-1"}

    first = await world.post("/initiatives/batch", rows, who="importer", **key)
    retry = await world.post("/initiatives/batch", rows, who="importer", **key)

    assert first.json()["created"] == 3
    assert retry.json() == first.json()
    assert _replayed(retry)
    assert await _count(world) == 3


async def test_a_retried_review_gets_the_first_answer_not_a_conflict(world: World) -> None:
    created = (await world.post("/initiatives", initiative(), who="officer")).json()
    path, key = f"/initiatives/{created['id']}/review", {"Idempotency-Key": "r1"}

    first = await world.post(path, {"decision": "valid"}, who="officer", **key)
    retry = await world.post(path, {"decision": "valid"}, who="officer", **key)

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()
    assert [step["status"] for step in retry.json()["history"]] == ["submitted", "valid"]


async def test_a_refused_request_stores_nothing_so_its_key_serves_the_corrected_one(
    world: World,
) -> None:
    key = {"Idempotency-Key": "sua-1"}
    bad = initiative(union_id=UPPER)  # not a grassroots union: refused by the rules

    refused = await world.post("/initiatives", bad, who="officer", **key)
    refused_again = await world.post("/initiatives", bad, who="officer", **key)
    corrected = await world.post("/initiatives", initiative(), who="officer", **key)

    assert (refused.status_code, refused_again.status_code) == (422, 422)
    assert not _replayed(refused_again)  # run again, not replayed from a store
    assert corrected.status_code == 201
    assert not _replayed(corrected)
    assert await _count(world) == 1


async def test_a_key_longer_than_200_characters_is_refused(world: World) -> None:
    refused = await world.post(
        "/initiatives", initiative(), who="officer", **{"Idempotency-Key": "k" * 201}
    )

    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == "Idempotency-Key"
    assert await _count(world) == 0


async def test_concurrent_requests_with_one_key_create_one_initiative(
    any_db_world: World,
) -> None:
    body, key = initiative(), {"Idempotency-Key": "dong-thoi"}

    responses = await asyncio.gather(
        *(any_db_world.post("/initiatives", body, who="officer", **key) for _ in range(5))
    )

    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(not _replayed(r) for r in responses) == 1
    assert await _count(any_db_world) == 1
