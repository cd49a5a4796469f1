"""Child processes that cannot outlive the launcher, with readiness waits and clean stops."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from deploy.launcher.errors import LaunchError

_PR_SET_PDEATHSIG = 1

T = TypeVar("T")

Log = Callable[[str], None]
"""Where the launcher writes its progress lines (print by default)."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # A launcher killed with SIGKILL cannot clean up; the kernel then sends its children SIGTERM.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from synchronous code, also when an event loop is already running in
    this thread (an async test fixture): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_port_free(port: int, what: str) -> None:
    """Fail early, with a clear message, when a requested port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise LaunchError(f"{what}: port 127.0.0.1:{port} is taken ({exc.strerror})") from exc


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """A server process in its own process group, logging to a file, stopped as a whole."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self.popen.pid if self.popen else None

    def start(self) -> None:
        """Start the process; its output goes to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self.popen = subprocess.Popen(
                    self.argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,  # its own group: a stop reaches its children too
                    preexec_fn=_die_with_parent,
                )
            except FileNotFoundError as exc:
                raise LaunchError(f"{self.name}: cannot run {self.argv[0]!r}: not found") from exc

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(self, check: Callable[[], bool], *, timeout: float, what: str) -> float:
        """Poll ``check`` until it passes; on exit or timeout stop the process and raise.

        Returns the seconds it took from the call.
        """
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not self.running():
                code = self.popen.returncode if self.popen else None
                self.stop()
                raise LaunchError(
                    f"{self.name} exited with code {code} before it was ready "
                    f"(log {self.log_path}):\n{tail(self.log_path)}"
                )
            try:
                if check():
                    return time.monotonic() - started
            except Exception:
                pass
            time.sleep(0.2)
        self.stop()
        raise LaunchError(
            f"{self.name} was not {what} within {timeout:.0f} s "
            f"(log {self.log_path}):\n{tail(self.log_path)}"
        )

    def stop(self, grace: float = 20.0) -> None:
        """Signal the process group, wait up to ``grace`` seconds, then kill what is left."""
        if self.popen is None:
            return
        pgid = self.popen.pid
        if self.popen.poll() is None:
            _signal_group(pgid, self.stop_signal)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        # Children that ignored the signal must not survive their leader.
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
