"""Alembic environment: runs migrations on the async engine of the configured database URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from services.submission.adapters import tables  # noqa: F401 - registers the tables
from services.submission.adapters.tables import UTCDateTime
from shared.database import create_engine
from shared.settings import SubmissionSettings

target_metadata = SQLModel.metadata


def _database_url() -> str:
    return (
        context.config.attributes.get("database_url")
        or SubmissionSettings().submission_database_url
    )


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import the application's types: they outlive them.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Two instances starting together must not both run the same migration.
        connection.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_online())
