"""Fixtures of the submission service tests: a world per test, on SQLite or PostgreSQL."""

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
async def any_db_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The same world on SQLite and on PostgreSQL: storage tests run on both."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/submission.db"
    else:
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+asyncpg://", 1
        )
    async with running_world(submission_settings(url)) as w:
        yield w
