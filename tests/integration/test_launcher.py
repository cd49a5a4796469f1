"""The launcher says why a start failed and leaves no process behind."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from deploy.launcher import LaunchError, start_kafka, start_postgres, start_redis
from deploy.launcher.kafka import check_java, ensure_kafka_jars
from deploy.launcher.process import ManagedProcess

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
    tmp_path: Path,
) -> None:
    # An impossible heap size makes the JVM exit at once, as a misconfigured broker would.
    with pytest.raises(LaunchError) as failure:
        start_kafka(workdir=tmp_path, heap="1x", timeout=30)

    message = str(failure.value)
    assert "kafka exited with code" in message
    assert "Invalid maximum heap size" in message
    assert str(tmp_path / "kafka.log") in message
    assert _processes_mentioning(str(tmp_path)) == []


def test_a_server_that_never_gets_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    sleeper = ManagedProcess("sleeper", ["sleep", "300"], log_path=tmp_path / "sleeper.log")
    sleeper.start()

    with pytest.raises(LaunchError, match=r"sleeper was not ready within 1 s"):
        sleeper.wait_ready(lambda: False, timeout=1, what="ready")

    assert not _alive(sleeper.pid)


def test_no_java_is_said_plainly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java, no mvn

    with pytest.raises(
        LaunchError, match=r"Kafka needs Java 17 or newer and `java` is not on PATH"
    ):
        check_java()


def test_an_unreachable_maven_central_is_said_plainly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in for mvn that fails as Maven does offline; the message is what is under test.
    fake_mvn = tmp_path / "bin" / "mvn"
    fake_mvn.parent.mkdir()
    fake_mvn.write_text(
        "#!/bin/sh\necho '[ERROR] Failed to execute goal: Could not transfer artifact "
        "org.apache.kafka:kafka_2.13:pom:4.1.1 from/to central: Unknown host repo.maven.apache.org'"
        "\nexit 1\n"
    )
    fake_mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_mvn.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("SANGKIEN_KAFKA_CACHE_DIR", str(tmp_path / "cache"))

    with pytest.raises(LaunchError, match="Maven Central is unreachable") as failure:
        ensure_kafka_jars(lambda line: None)

    assert "Could not transfer artifact" in str(failure.value)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if text in cmdline and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


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


def test_the_kafka_jar_cache_is_reused(kafka_bootstrap: str) -> None:
    lines: list[str] = []
    libs = ensure_kafka_jars(lines.append)  # the session's broker has filled the cache already

    assert lines == []
    assert any(libs.glob("kafka_2.13-*.jar"))
    assert os.path.exists(libs / ".complete")


async def test_a_restarted_broker_keeps_its_topics(tmp_path: Path) -> None:
    from shared.kafka import TopicSpec, ensure_topics

    first = start_kafka(workdir=tmp_path, log=lambda _: None)
    try:
        await ensure_topics(first.bootstrap_servers, [TopicSpec("kept", 1)])
    finally:
        first.stop()
    second = start_kafka(workdir=tmp_path, log=lambda _: None)  # another port, same data
    try:
        created_again = await ensure_topics(second.bootstrap_servers, [TopicSpec("kept", 1)])
    finally:
        second.stop()

    assert created_again == []
