"""A use case is one transaction on every backend: a failure undoes the rows its savepoints
(the batch's per-row steps) had released."""

from __future__ import annotations

import sqlite3

import pytest
from submission_world import CAMPAIGN, World, initiative

from services.submission.adapters.paths import encode_path
from services.submission.adapters.tables import UnitRow, now

pytestmark = pytest.mark.integration


class Boom(Exception):
    """A failure after the savepoint was released."""


async def test_a_failed_transaction_undoes_its_released_savepoints(any_db_world: World) -> None:
    uow = any_db_world.app.state.uow
    with pytest.raises(Boom):
        async with uow.transaction() as session:
            async with session.begin_nested():
                session.add(
                    UnitRow(
                        id="tam-thoi",
                        name="Tạm thời",
                        level="province",
                        parent_id="tong-ldld-vn",
                        path=encode_path(["tong-ldld-vn", "tam-thoi"]),
                        created_at=now(),
                        updated_at=now(),
                    )
                )
            raise Boom

    async with uow.read_only() as session:
        assert await session.get(UnitRow, "tam-thoi") is None


@pytest.mark.slow
async def test_a_locked_database_answers_503_with_retry_after_and_stores_nothing(
    world: World,
) -> None:
    # Another writer holds SQLite's write lock past the busy timeout (5 s): under load, the
    # fault test saw this as a 500. The client is told to send the request again.
    path = world.settings.submission_database_url.removeprefix("sqlite+aiosqlite:///")
    before = (await world.get("/initiatives", who="viewer", campaign_id=CAMPAIGN)).json()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        refused = await world.post("/initiatives", initiative(), who="officer")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    after = (await world.get("/initiatives", who="viewer", campaign_id=CAMPAIGN)).json()

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "database_unavailable"
    assert refused.json()["problems"][0]["field"] == "database"
    assert after == before
