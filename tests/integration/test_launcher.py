"""The launcher says why a start failed and leaves no process behind."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from deploy.launcher import LaunchError, start_kafka, start_postgres, start_redis

pytestmark = pytest.mark.integration


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_taken_port_is_refused_with_its_number(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LaunchError, match=rf"port 127\.0\.0\.1:{port} is taken"):
            start_redis(workdir=tmp_path, port=port)


def test_a_broker_that_cannot_start_is_reported_with_its_log_and_not_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An impossible heap size makes the JVM exit at once, as a misconfigured broker would.
    with pytest.raises(LaunchError) as failure:
        start_kafka(workdir=tmp_path, heap="1x", timeout=30)

    message = str(failure.value)
    assert "kafka exited with code" in message
    assert "Invalid maximum heap size" in message
    assert str(tmp_path / "kafka.log") in message


def test_a_stopped_redis_leaves_no_process(tmp_path: Path) -> None:
    server = start_redis(workdir=tmp_path)
    pid = server.process.pid

    server.stop()

    assert not _alive(pid)


def test_a_throwaway_postgres_cluster_is_removed_when_stopped() -> None:
    server = start_postgres()
    pid, data_dir = server.process.pid, server.data_dir
    url = server.create_database("launcher_check")

    server.stop()

    assert url.endswith(f":{server.port}/launcher_check")
    assert not _alive(pid)
    assert not data_dir.exists()


def test_the_kafka_jar_cache_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.launcher.kafka import ensure_kafka_jars

    lines: list[str] = []
    libs = ensure_kafka_jars(lines.append)  # the session's broker has filled the cache already

    assert lines == []
    assert any(libs.glob("kafka_2.13-*.jar"))
    assert os.path.exists(libs / ".complete")
