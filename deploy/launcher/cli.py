"""``python -m deploy.launcher``: start the local stack and keep it up until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from deploy.launcher.errors import LaunchError
from deploy.launcher.kafka import ensure_kafka_jars
from deploy.launcher.stack import ENV_FILE, LocalStack, run_stack

app = typer.Typer(
    help="Run the sáng kiến stack on this machine without Docker: Apache Kafka (KRaft), Redis, "
    "optionally PostgreSQL, and the submission, scoring and notifier services.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


def say(line: str) -> None:
    """One progress line of the launcher (red when it starts with "error:")."""
    # Text, not markup: error lines carry servers' log tails, where "[...]" is text.
    console.print(Text(line, style="red" if line.startswith("error:") else ""), highlight=False)


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
    code = run_stack(
        workdir, services=services, postgres=postgres, log=say, on_ready=print_addresses
    )
    raise typer.Exit(code)


@app.command("fetch-kafka")
def fetch_kafka() -> None:
    """Copy Kafka's jars from Maven Central into the cache (once; later starts need no network)."""
    try:
        say(f"kafka jars in {ensure_kafka_jars(say)}")
    except LaunchError as error:
        say(f"error: {error}")
        raise typer.Exit(1) from error


def print_addresses(stack: LocalStack) -> None:
    """The table of what runs where, and where the environment file is."""
    assert stack.kafka and stack.redis
    table = Table(title="sáng kiến stack is up (Ctrl-C stops it)")
    table.add_column("component")
    table.add_column("address")
    table.add_row("kafka", stack.kafka.bootstrap_servers)
    table.add_row("redis", stack.redis.url)
    if stack.mail:
        table.add_row("mail", f"smtp://127.0.0.1:{stack.mail.port}  (kept in {stack.mail.maildir})")
    if stack.postgres:
        table.add_row("postgres", stack.postgres.url)
    for name, service in stack.services.items():
        table.add_row(name, f"{service.url}  (API docs: {service.url}/docs)")
    if stack.services:
        table.add_row("admin token", str(stack.workdir / "admin.token"))
    console.print(table)
    say(f"environment for the CLI and tests: source {stack.workdir / ENV_FILE}")
