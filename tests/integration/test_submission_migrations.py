"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from services.submission.adapters import tables  # noqa: F401 - registers the tables
from services.submission.adapters.migrations import migrate
from shared.database import create_engine

pytestmark = pytest.mark.integration


async def test_migrations_match_the_models(any_database_url: str) -> None:
    await migrate(any_database_url)
    engine = create_engine(any_database_url)

    def differences(connection: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await engine.dispose()

    assert diff == [], "models changed: add a migration (alembic revision --autogenerate)"


async def test_migrating_twice_changes_nothing(any_database_url: str) -> None:
    await migrate(any_database_url)
    await migrate(any_database_url)
