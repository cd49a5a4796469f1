"""A throwaway PostgreSQL cluster (initdb) from Debian's package, on a free loopback port."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from deploy.launcher.errors import LaunchError
from deploy.launcher.process import Log, ManagedProcess, ensure_port_free, free_port, run_coroutine
from deploy.launcher.system_packages import apt_install

_DEBIAN_ROOT = Path("/usr/lib/postgresql")


def postgres_bin_dir(log: Log = print) -> Path:
    """The newest installed PostgreSQL's bin folder, installing Debian's package when missing."""
    for attempt in range(2):
        versions = sorted(
            (p for p in _DEBIAN_ROOT.glob("*/bin") if (p / "initdb").exists()),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        )
        if versions:
            return versions[-1]
        if attempt == 0:
            apt_install("postgresql", log=log)
    raise LaunchError(f"no PostgreSQL under {_DEBIAN_ROOT} even after installing it")


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: drop to Debian's postgres user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise LaunchError("running as root but there is no `postgres` user to run as") from exc
    # --pdeathsig after the uid change: the kernel clears it when credentials change.
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
            "--pdeathsig=TERM"]  # fmt: skip


@dataclass
class PostgresServer:
    """A running throwaway cluster; ``url`` is for asyncpg, ``sqlalchemy_url`` for SQLModel."""

    port: int
    data_dir: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        """The cluster's postgres database, as a libpq URL."""
        return self.database_url("postgres")

    def database_url(self, database: str, *, driver: str = "postgresql") -> str:
        """URL of one database, e.g. with driver ``postgresql+asyncpg`` for SQLAlchemy."""
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database (one per test keeps tests apart); return its asyncpg URL."""

        async def create() -> None:
            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        run_coroutine(create)
        return self.database_url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the cluster's folder."""
        self.process.stop(grace=20)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_postgres(
    *, port: int | None = None, timeout: float = 60.0, log: Log = print
) -> PostgresServer:
    """initdb a cluster in a new temporary folder and start it; nothing is kept after stop."""
    bin_dir = postgres_bin_dir(log)
    port = port or free_port()
    ensure_port_free(port, "postgres")
    # Not under the caller's work folder: pytest's are private to root, and postgres runs as
    # its own user, which must reach the folder.
    data_dir = Path(tempfile.mkdtemp(prefix="sangkien-pg-"))
    as_user = _as_postgres_user()
    if as_user:
        shutil.chown(data_dir, "postgres", "postgres")
    log_path = data_dir / "postgres.log"
    started = time.monotonic()
    result = subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data_dir / "pgdata"), "-U", "postgres",
         "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise LaunchError(f"postgres: initdb failed:\n{result.stderr[-2000:]}")
    # Durability is pointless for a throwaway test cluster, and fsync would dominate test time.
    argv = [*as_user, str(bin_dir / "postgres"), "-D", str(data_dir / "pgdata"),
            "-p", str(port), "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={data_dir}", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200"]  # fmt: skip
    process = ManagedProcess("postgres", argv, log_path=log_path, stop_signal=signal.SIGINT)
    process.start()
    server = PostgresServer(port, data_dir, process)

    async def select_one() -> bool:
        conn = await asyncpg.connect(server.url, timeout=2)
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    try:
        process.wait_ready(lambda: run_coroutine(select_one), timeout=timeout, what="accepting SQL")
    except LaunchError:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    log(f"postgres: ready on {server.url} in {time.monotonic() - started:.1f} s")
    return server
