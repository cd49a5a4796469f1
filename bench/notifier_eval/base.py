"""What the parts share: the progress bar and the benchmarks' common names."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from scoring_replay.base import (
    RESULTS_DIR,
    Aim,
    _git_revision,
    headline,
    machine,
    uvloop,
    write_results,
)

__all__ = [
    "RESULTS_DIR",
    "Aim",
    "_git_revision",
    "headline",
    "machine",
    "progress_bar",
    "uvloop",
    "write_results",
]


def progress_bar(console: Console) -> Progress:
    """A transient bar: for watching; the line printed after each step is the record."""
    # Piped into a log, a bar would only leave blank lines.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
