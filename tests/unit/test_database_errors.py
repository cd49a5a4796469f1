"""Which database errors tell a client "try again shortly" (503) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import IntegrityError, OperationalError

from shared.http_problems import database_busy_or_gone


def test_sqlite_busy_past_its_timeout_is_try_again() -> None:
    error = OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))

    assert database_busy_or_gone(error)


def test_a_connection_that_broke_is_try_again() -> None:
    error = OperationalError("SELECT 1", {}, ConnectionResetError("closed"))
    error.connection_invalidated = True

    assert database_busy_or_gone(error)


def test_a_missing_table_is_a_bug_not_try_again() -> None:
    error = OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: units"))

    assert not database_busy_or_gone(error)


def test_a_constraint_violation_is_not_try_again() -> None:
    error = IntegrityError("INSERT …", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    assert not database_busy_or_gone(error)
