"""Alembic environment: runs migrations on the async engine of the configured database URL."""

from __future__ import annotations

from sqlmodel import SQLModel

from services.submission.adapters import tables  # noqa: F401 - registers the tables
from shared.migrations import run_env
from shared.settings import SubmissionSettings

run_env(SQLModel.metadata, SubmissionSettings().submission_database_url, lock_id=4242001)
