"""The run command brings the whole stack up, every service ready, and stops it all cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from deploy.launcher.services import REPO_ROOT, SERVICES
from shared.settings import env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]


def _descendants(pid: int) -> set[int]:
    """Every process whose parent chain reaches ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(stat.rsplit(") ", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if needle in line:
                found.set()

        found.set()  # the process ended: no use waiting longer

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout) or not any(needle in line for line in lines):
        process.kill()
        raise AssertionError(f"no {needle!r} within {timeout} s:\n{''.join(lines)}")
    return lines


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_command_starts_everything_ready_and_stops_without_leftovers(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.launcher", "up", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT, env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # As a shell starts a background job (`make run &`): with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    output = _wait_for_line(launcher, "stack is up", timeout=180)
    stack_env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in (tmp_path / "stack.env").read_text().splitlines()
    )
    children = _descendants(launcher.pid)
    readiness = {
        name: httpx.get(
            f"http://127.0.0.1:{stack_env[env_name(spec.port_setting)]}/readyz", timeout=5
        ).json()["status"]
        for name, spec in SERVICES.items()
    }

    launcher.send_signal(stop_signal)
    code = launcher.wait(timeout=90)
    time.sleep(0.2)  # let the kernel finish reaping before /proc is read

    assert readiness == {"submission": "ready", "scoring": "ready", "notifier": "ready"}
    assert any("kafka: ready on 127.0.0.1:" in line for line in output)
    assert len(children) >= 5  # kafka, redis and the three services
    assert code == 0
    assert [pid for pid in children if _alive(pid)] == []


def test_the_run_command_leaves_an_admin_token_that_the_api_accepts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.launcher", "up", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_for_line(launcher, "stack is up", timeout=180)
        stack_env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (tmp_path / "stack.env").read_text().splitlines()
        )
        token = (tmp_path / "admin.token").read_text().strip()
        port = stack_env[env_name("submission_port")]
        root = httpx.get(
            f"http://127.0.0.1:{port}/units/tong-ldld-vn",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=90)

    assert root.status_code == 200
    assert root.json()["level"] == "national"
    assert (tmp_path / "admin.token").stat().st_mode & 0o077 == 0


def _log_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_services_log_json_lines_and_shut_down_gracefully(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.launcher", "up", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    _wait_for_line(launcher, "stack is up", timeout=180)
    launcher.send_signal(signal.SIGINT)
    launcher.wait(timeout=90)

    for name in SERVICES:
        events = _log_events(tmp_path / "logs" / f"{name}.log")  # every line must be JSON
        assert {e["service"] for e in events} == {name}
        assert [e["event"] for e in events if str(e["event"]).startswith("service.")] == [
            "service.started",
            "service.stopped",
        ]
