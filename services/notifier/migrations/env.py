"""Alembic environment: runs migrations on the async engine of the configured database URL."""

from __future__ import annotations

from services.notifier.adapters.tables import NotifierTable
from shared.migrations import run_env
from shared.settings import NotifierSettings

run_env(
    NotifierTable.metadata,
    NotifierSettings().notifier_database_url,
    lock_id=4242003,
    version_table="alembic_version_notifier",
)
