"""Infrastructure for the whole suite, started once per session through the launcher.

Addresses given in the environment are used instead of starting anything, so the same suite
runs against docker-compose:

    SANGKIEN_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 SANGKIEN_REDIS_URL=redis://127.0.0.1:6379/0 \
    SANGKIEN_TEST_POSTGRES_URL=postgresql://sangkien:…@127.0.0.1:5432/sangkien pytest
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.kafka import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name

# The one required secret of the services, for every app a test builds.
os.environ.setdefault(
    env_name("submission_person_key_secret"), "test-person-key-secret-" + "x" * 24
)

# What the launcher said while starting the session's servers, shown at the end of the run
# (pytest captures fixture output, and these timings are worth seeing in CI's log).
_launcher_lines: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the launcher's start lines (where each server listened, how long it took)."""
    if _launcher_lines:
        terminalreporter.section("local stack started by the launcher")
        for line in _launcher_lines:
            terminalreporter.write_line(line)


def _given(field: str) -> str | None:
    return os.environ.get(env_name(field)) or None


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Kafka broker's bootstrap address (one per test session)."""
    if given := _given("kafka_bootstrap_servers"):
        yield given
        return
    from deploy.launcher import start_kafka

    server = start_kafka(workdir=tmp_path_factory.mktemp("kafka"), log=_launcher_lines.append)
    yield server.bootstrap_servers
    server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server's URL (one per test session, nothing kept on disk)."""
    if given := _given("redis_url"):
        yield given
        return
    from deploy.launcher import start_redis

    server = start_redis(workdir=tmp_path_factory.mktemp("redis"), log=_launcher_lines.append)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A throwaway PostgreSQL cluster, or None when SANGKIEN_TEST_POSTGRES_URL is given."""
    if os.environ.get("SANGKIEN_TEST_POSTGRES_URL"):
        yield None
        return
    from deploy.launcher import start_postgres

    server = start_postgres(log=_launcher_lines.append)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: object) -> str:
    """A fresh, empty PostgreSQL database for one test (asyncpg-style URL)."""
    if given := os.environ.get("SANGKIEN_TEST_POSTGRES_URL"):
        return given
    from deploy.launcher import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def unique() -> str:
    """A short id that keeps this test's topics, groups and keys apart from the others'."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def settings(
    kafka_bootstrap: str, redis_url: str, unique: str
) -> AsyncIterator[CommonSettings]:
    """Settings pointing at the session's Kafka and Redis, with topics of this test's own."""
    test_settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        topic_initiative_events=f"test-{unique}.initiative-events",
        topic_registry=f"test-{unique}.registry",
        topic_alerts=f"test-{unique}.alerts",
        topic_dead_letter=f"test-{unique}.dead-letter",
        initiative_events_partitions=3,
    )
    await ensure_topics(test_settings.kafka_servers, topic_specs(test_settings))
    yield test_settings
