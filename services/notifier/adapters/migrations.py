"""Bring the notifier database's schema up to date with Alembic."""

from __future__ import annotations

from pathlib import Path

from shared import migrations

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


async def migrate(database_url: str) -> None:
    """Apply every pending migration of the notifier."""
    await migrations.migrate(ALEMBIC_INI, database_url)
