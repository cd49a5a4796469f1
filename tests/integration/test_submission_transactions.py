"""A use case is one transaction on every backend: a failure undoes the rows its savepoints
(the batch's per-row steps) had released."""

from __future__ import annotations

import pytest
from submission_world import World

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
