"""Fixtures of the integration tests: a submission world per test, and a database on SQLite
or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from submission_world import World, running_world, submission_settings


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A seeded submission service on a fresh SQLite file (no Kafka, relay off)."""
    async with running_world(
        submission_settings(f"sqlite+aiosqlite:///{tmp_path}/submission.db")
    ) as w:
        yield w


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on SQLite and on PostgreSQL: storage tests run on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.db"
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def any_db_world(any_database_url: str) -> AsyncIterator[World]:
    """The same world on SQLite and on PostgreSQL."""
    async with running_world(submission_settings(any_database_url)) as w:
        yield w
