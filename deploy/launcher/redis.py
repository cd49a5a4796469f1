"""redis-server from Debian's package on a free loopback port."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from deploy.launcher.errors import LaunchError
from deploy.launcher.process import Log, ManagedProcess, ensure_port_free, free_port
from deploy.launcher.system_packages import apt_install


def redis_server_binary(log: Log = print) -> str:
    """The redis-server executable, installed from Debian's package when missing."""
    found = shutil.which("redis-server")
    if found is None:
        apt_install("redis-server", log=log)
        found = shutil.which("redis-server")
    if found is None:
        raise LaunchError("redis-server is not on PATH even after installing it")
    return found


@dataclass
class RedisServer:
    """A running redis-server."""

    url: str
    port: int
    process: ManagedProcess

    def stop(self) -> None:
        """SIGTERM: Redis saves (when persistent) and exits."""
        self.process.stop(grace=10)


def start_redis(
    *,
    workdir: Path,
    port: int | None = None,
    persistent: bool = False,
    timeout: float = 20.0,
    log: Log = print,
) -> RedisServer:
    """Start redis-server; without ``persistent`` it keeps nothing on disk (tests)."""
    binary = redis_server_binary(log)
    port = port or free_port()
    ensure_port_free(port, "redis")
    workdir.mkdir(parents=True, exist_ok=True)
    persistence = (
        ["--appendonly", "yes", "--appendfsync", "everysec"]
        if persistent
        else ["--save", "", "--appendonly", "no"]
    )
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--daemonize", "no", "--logfile", "", *persistence]  # fmt: skip
    process = ManagedProcess("redis", argv, log_path=workdir / "redis.log")
    started = time.monotonic()
    process.start()
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        process.wait_ready(lambda: bool(client.ping()), timeout=timeout, what="answering PING")
    finally:
        client.close()
    url = f"redis://127.0.0.1:{port}/0"
    log(f"redis: ready on {url} in {time.monotonic() - started:.1f} s")
    return RedisServer(url, port, process)
