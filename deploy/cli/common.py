"""What every command uses: the consoles, the stack of the ``--workdir``, a progress bar."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.text import Text

from deploy.cli.context import DEFAULT_WORKDIR, StackContext

# Piped into a file or a program, a table is read whole: the 80 columns Rich assumes without a
# terminal would cut its cells short.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200)
errors = Console(stderr=True, soft_wrap=True)  # what went wrong: one line a problem, unwrapped


def workdir_of(ctx: typer.Context) -> Path:
    """The ``--workdir`` given to ``sangkien`` (every sub-command's context inherits it)."""
    return ctx.obj if isinstance(ctx.obj, Path) else DEFAULT_WORKDIR


def stack_of(ctx: typer.Context) -> StackContext:
    """The running stack's addresses and token, found from ``--workdir`` and the environment."""
    return StackContext.find(workdir_of(ctx))


def progress_bar() -> Progress:
    """A bar for a long import: what, how far, how many of how many, how long so far."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def report_error(message: str, details: list[str]) -> None:
    """A red one-line message on stderr, its details indented below."""
    # Text, not markup: messages quote the services, and "[...]" in them is text.
    errors.print(Text(f"error: {message}", style="red"), highlight=False)
    for line in details:
        errors.print(Text(f"  {line}"), highlight=False)


def number(value: object) -> str:
    """A count as the tables show it (thousands grouped), "—" when there is none."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    if isinstance(value, int | float):
        return f"{int(value):,}"
    return str(value)
