"""Bring the database schema up to date with Alembic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for ``database_url``."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    return config


async def migrate(database_url: str) -> None:
    """Apply every pending migration (in a thread: Alembic runs its own event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
