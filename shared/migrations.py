"""Alembic for both stateful services: bring a schema up to date, and the body of env.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.database import UTCDateTime, create_engine


def alembic_config(alembic_ini: Path, database_url: str) -> Config:
    """Alembic's configuration of one service (its alembic.ini) for ``database_url``."""
    config = Config(str(alembic_ini))
    config.attributes["database_url"] = database_url
    return config


async def migrate(alembic_ini: Path, database_url: str) -> None:
    """Apply every pending migration (in a thread: Alembic runs its own event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(alembic_ini, database_url), "head")


def run_env(
    metadata: MetaData, default_url: str, *, lock_id: int, version_table: str = "alembic_version"
) -> None:
    """What a service's migrations/env.py does: run the migrations on its database.

    ``lock_id`` is the PostgreSQL advisory lock that keeps two instances starting together
    from running the same migration twice; each service has its own, and its own
    ``version_table``, since two services may share one database (docker-compose.yml).
    """
    url = context.config.attributes.get("database_url") or default_url
    asyncio.run(_run_online(metadata, url, lock_id, version_table))


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import the application's types: they outlive them.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


async def _run_online(metadata: MetaData, url: str, lock_id: int, version_table: str) -> None:
    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({lock_id})"))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_item=_render_item,
            render_as_batch=True,  # SQLite alters tables by copying them
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
    finally:
        await engine.dispose()
