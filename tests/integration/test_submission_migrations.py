"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from services.submission.adapters import tables  # noqa: F401 - registers the tables
from services.submission.adapters.migrations import migrate
from shared.database import create_engine

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/migrated.db"
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def test_migrations_match_the_models(database_url: str) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)

    def differences(connection: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await engine.dispose()

    assert diff == [], "models changed: add a migration (alembic revision --autogenerate)"


async def test_migrating_twice_changes_nothing(database_url: str) -> None:
    await migrate(database_url)
    await migrate(database_url)
