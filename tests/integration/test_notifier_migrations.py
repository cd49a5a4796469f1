"""The notifier's Alembic migrations build its tables, also in a database the submission
service uses too (docker-compose.yml gives both the same PostgreSQL database)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from services.notifier.adapters.migrations import migrate
from services.notifier.adapters.tables import NotifierTable
from services.submission.adapters.migrations import migrate as migrate_submission
from shared.database import create_engine

pytestmark = pytest.mark.integration

VERSION_TABLE = "alembic_version_notifier"


async def _inspect(database_url: str, look: Any) -> Any:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


async def test_notifier_migrations_match_its_tables(any_database_url: str) -> None:
    await migrate(any_database_url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return compare_metadata(context, NotifierTable.metadata)

    assert await _inspect(any_database_url, differences) == [], (
        "tables changed: add a migration (alembic -c services/notifier/alembic.ini revision "
        "--autogenerate)"
    )


async def test_the_notifier_migrates_a_database_the_submission_service_already_uses(
    postgres_url: str,
) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    await migrate_submission(url)

    await migrate(url)
    await migrate(url)  # and again: nothing to do

    tables = set(await _inspect(url, lambda connection: inspect(connection).get_table_names()))
    assert set(NotifierTable.metadata.tables) <= tables
    assert {"alembic_version", VERSION_TABLE, "initiatives"} <= tables
