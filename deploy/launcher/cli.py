"""``python -m deploy.launcher``: start the local stack and keep it up until Ctrl-C."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deploy.launcher.errors import LaunchError
from deploy.launcher.kafka import ensure_kafka_jars
from deploy.launcher.services import SERVICES
from deploy.launcher.stack import LocalStack

app = typer.Typer(
    help="Run the sáng kiến stack on this machine without Docker: Apache Kafka (KRaft), Redis, "
    "optionally PostgreSQL, and the submission, scoring and notifier services.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def _say(line: str) -> None:
    console.print(line, highlight=False)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack the same way Ctrl-C does


@app.command()
def up(
    workdir: Annotated[
        Path, typer.Option(help="Folder for data and logs; kept across runs.")
    ] = Path("var/stack"),
    services: Annotated[
        bool,
        typer.Option(help="Start the three services too (--no-services: infrastructure only)."),
    ] = True,
    postgres: Annotated[
        bool, typer.Option(help="Also start a throwaway PostgreSQL cluster.")
    ] = False,
) -> None:
    """Start everything, print the addresses, and stop it all on Ctrl-C or SIGTERM."""
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and `kill -INT` must still
    # stop the stack.
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    workdir = workdir.resolve()
    stack = LocalStack(workdir, log=_say)
    exit_code = 0
    try:
        stack.start_infrastructure(postgres=postgres, persistent=True)
        if services:
            preferred = {name: spec.default_port for name, spec in SERVICES.items()}
            stack.start_services(list(SERVICES), preferred_ports=preferred)
            stack.admin_token()
        _print_addresses(stack, workdir)
        while not (dead := stack.dead()):
            time.sleep(1)
        _say(f"[red]stopped unexpectedly: {', '.join(dead)}; see {workdir}/logs[/red]")
        exit_code = 1
    except LaunchError as error:
        _say(f"[red]error:[/red] {error}")
        exit_code = 1
    except KeyboardInterrupt:
        _say("stopping the stack")
    finally:
        # A second Ctrl-C must not leave half the stack running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        _say("stack stopped")
    raise typer.Exit(exit_code)


@app.command("fetch-kafka")
def fetch_kafka() -> None:
    """Copy Kafka's jars from Maven Central into the cache (once; later starts need no network)."""
    try:
        _say(f"kafka jars in {ensure_kafka_jars(_say)}")
    except LaunchError as error:
        _say(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error


def _print_addresses(stack: LocalStack, workdir: Path) -> None:
    assert stack.kafka and stack.redis
    # The environment file first: whoever waits for "stack is up" may read it at once.
    env_file = workdir / "stack.env"
    ports = {name: int(s.url.rsplit(":", 1)[1]) for name, s in stack.services.items()}
    env_file.write_text("".join(f"export {k}={v}\n" for k, v in stack.service_env(ports).items()))
    table = Table(title="sáng kiến stack is up (Ctrl-C stops it)")
    table.add_column("component")
    table.add_column("address")
    table.add_row("kafka", stack.kafka.bootstrap_servers)
    table.add_row("redis", stack.redis.url)
    if stack.postgres:
        table.add_row("postgres", stack.postgres.url)
    for name, service in stack.services.items():
        table.add_row(name, f"{service.url}  (API docs: {service.url}/docs)")
    if stack.services:
        table.add_row("admin token", str(workdir / "admin.token"))
    console.print(table)
    _say(f"environment for the CLI and tests: source {env_file}")
