"""``sangkien stack up|down|status``: the local stack the launcher runs in ``--workdir``.

``up`` is the launcher's own run command (``deploy.launcher.stack.run_stack``), in the
foreground, or with ``--detach`` as ``python -m deploy.launcher up`` in a session of its own;
``down`` signals the launcher named by ``launcher.pid``, which stops everything it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import redis
import typer
from rich.table import Table

from deploy.cli.common import console, stack_of, workdir_of
from deploy.cli.context import StackContext
from deploy.cli.errors import CliError, ExitCode
from deploy.launcher.cli import print_addresses, say
from deploy.launcher.process import tail
from deploy.launcher.services import REPO_ROOT
from deploy.launcher.stack import ENV_FILE, PID_FILE, launcher_pid, process_start, run_stack
from shared.kafka.readiness import check_kafka
from shared.settings import env_name

LAUNCHER_LOG = "launcher.log"
PROBE_TIMEOUT = 3.0  # seconds: a local server that takes longer is not answering

stack_app = typer.Typer(
    help="Start, stop and check the local stack: Kafka, Redis and the three services.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``sangkien stack …`` to the app."""
    app.add_typer(stack_app, name="stack")


@dataclass(frozen=True)
class Probe:
    """One component of the stack as a status check found it."""

    component: str
    address: str
    state: str
    ok: bool


@stack_app.command()
def up(
    ctx: typer.Context,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", "-d", help="Run in the background; return once every service is ready."
        ),
    ] = False,
    services: Annotated[
        bool, typer.Option(help="Start the three services too (--no-services: Kafka and Redis).")
    ] = True,
    postgres: Annotated[bool, typer.Option(help="Also start a throwaway PostgreSQL.")] = False,
    timeout: Annotated[
        float, typer.Option(help="With --detach: seconds to wait for the stack to be ready.")
    ] = 300.0,
) -> None:
    """Start the stack: in the foreground until Ctrl-C, or in the background with --detach.

    Data is kept in --workdir across runs; its stack.env tells the other commands where the
    services listen, and launcher.pid which process `sangkien stack down` stops.
    """
    workdir = workdir_of(ctx).resolve()
    if not detach:
        code = run_stack(workdir, services=services, postgres=postgres, log=say,
                         on_ready=print_addresses)  # fmt: skip
        raise typer.Exit(code)
    if (pid := launcher_pid(workdir)) is not None:
        raise CliError(
            f"a stack already runs in {workdir} (launcher pid {pid}); "
            "`sangkien stack status` shows it, `sangkien stack down` stops it"
        )
    # No launcher runs here, so a stack.env is an earlier run's: the wait must not read it.
    (workdir / ENV_FILE).unlink(missing_ok=True)
    launcher = _start_detached(workdir, services=services, postgres=postgres)
    probes = _wait_until_ready(ctx, launcher, timeout)
    _print_probes(probes, title="sáng kiến stack is up")
    console.print(
        f"launcher pid {launcher.pid}, log {workdir / LAUNCHER_LOG}; "
        "`sangkien stack down` stops it",
        highlight=False,
    )


@stack_app.command()
def down(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for everything to stop.")] = 120,
) -> None:
    """Stop the stack running in --workdir (its launcher stops everything it started)."""
    workdir = workdir_of(ctx).resolve()
    had_pid_file = (workdir / PID_FILE).exists()
    pid = launcher_pid(workdir)  # removes a stale pid file
    if pid is None:
        stale = " (removed a stale launcher.pid)" if had_pid_file else ""
        raise CliError(f"no stack is running in {workdir}{stale}", ExitCode.UNREACHABLE)
    started = process_start(pid)
    with suppress(ProcessLookupError):  # it may have just ended on its own
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with console.status(f"stopping the stack (launcher pid {pid})"):
        while process_start(pid) == started and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
    if process_start(pid) == started:
        raise CliError(
            f"the launcher (pid {pid}) did not stop within {timeout:.0f} s",
            details=[f"see {workdir / LAUNCHER_LOG}; `kill -9 {pid}` ends it and its servers"],
        )
    console.print(f"stack in {workdir} stopped", highlight=False)


@stack_app.command()
def status(ctx: typer.Context) -> None:
    """Each component with its address and state; exit 0 when all are ready, 3 otherwise."""
    context = stack_of(ctx)
    pid = launcher_pid(context.workdir)
    if pid is None and not context.external:
        raise CliError(
            f"no stack is running in {context.workdir.resolve()}: start one with "
            "`sangkien stack up`",
            ExitCode.UNREACHABLE,
        )
    probes = probe_stack(context)
    if pid is not None:
        probes.insert(0, Probe("launcher", f"pid {pid}", "running", True))
        if not (context.workdir / ENV_FILE).exists():  # written once every service is ready
            probes.append(Probe("services", "", "starting", False))
    _print_probes(probes, title="sáng kiến stack")
    if not probes or not all(p.ok for p in probes):
        raise typer.Exit(ExitCode.UNREACHABLE)


def probe_stack(context: StackContext) -> list[Probe]:
    """Kafka and Redis (when the stack's env names them) and every service's /readyz."""
    probes = []
    if bootstrap := context.env.get(env_name("kafka_bootstrap_servers")):
        probes.append(_probe("kafka", bootstrap, lambda: _kafka_answers(bootstrap)))
    if redis_url := context.env.get(env_name("redis_url")):
        probes.append(_probe("redis", redis_url, lambda: _redis_answers(redis_url)))
    probes += [_probe_service(name, url) for name, url in context.urls.items()]
    return probes


def _probe(component: str, address: str, answers: Callable[[], None]) -> Probe:
    try:
        answers()
    except Exception as error:
        return Probe(component, address, f"not answering ({_reason(error)})", False)
    return Probe(component, address, "ready", True)


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _kafka_answers(bootstrap: str) -> None:
    # aiokafka logs every refused connection as an error; the probe's answer says it already.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        asyncio.run(check_kafka(bootstrap, timeout=PROBE_TIMEOUT))
    finally:
        quiet.setLevel(level)


def _redis_answers(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def _probe_service(name: str, url: str) -> Probe:
    try:
        response = httpx.get(f"{url}/readyz", timeout=PROBE_TIMEOUT)
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        return Probe(name, url, f"not answering ({_reason(error)})", False)
    state = str(body.get("status", response.status_code))
    if down := body.get("down"):
        state += f" ({', '.join(map(str, down))} down)"
    # 200 is ready or degraded (an optional dependency is down): the service answers.
    return Probe(name, url, state, response.status_code == 200)


def _print_probes(probes: list[Probe], *, title: str) -> None:
    table = Table(title=title)
    for column in ("component", "address", "state"):
        table.add_column(column)
    for probe in probes:
        style = "green" if probe.ok else "red"
        table.add_row(probe.component, probe.address, f"[{style}]{probe.state}[/{style}]")
    console.print(table)


def _start_detached(workdir: Path, *, services: bool, postgres: bool) -> subprocess.Popen[bytes]:
    """The launcher in a session of its own (a closed terminal does not stop it), its output
    in launcher.log."""
    argv = [sys.executable, "-m", "deploy.launcher", "up", "--workdir", str(workdir)]
    argv += [] if services else ["--no-services"]
    argv += ["--postgres"] if postgres else []
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / LAUNCHER_LOG).open("wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env={**os.environ, "COLUMNS": "120"},  # the log's tables: not wrapped at 80
            start_new_session=True,
        )


def _wait_until_ready(
    ctx: typer.Context, launcher: subprocess.Popen[bytes], timeout: float
) -> list[Probe]:
    """Wait for the launcher's stack.env (written once every service is ready), then until
    every component answers; fail with the log's tail if the launcher exits first."""
    workdir = workdir_of(ctx).resolve()
    deadline = time.monotonic() + timeout
    with console.status("starting Kafka, Redis and the services…"):
        while time.monotonic() < deadline:
            if (code := launcher.poll()) is not None:
                raise CliError(
                    f"the stack did not start (the launcher exited with code {code})",
                    details=tail(workdir / LAUNCHER_LOG).splitlines(),
                )
            if (workdir / ENV_FILE).exists():
                probes = probe_stack(stack_of(ctx))
                if probes and all(p.ok for p in probes):
                    return probes
            time.sleep(0.5)
    raise CliError(
        f"the stack was not ready within {timeout:.0f} s and is still starting",
        ExitCode.UNREACHABLE,
        [f"see {workdir / LAUNCHER_LOG}; `sangkien stack down` stops it"],
    )


def _reap(pid: int) -> None:
    """Collect the launcher's exit status when this process started it (`up --detach` in the
    same Python process, as in tests): otherwise it stays a zombie."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
