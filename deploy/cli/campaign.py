"""The source case's commands: ``seed``, ``simulate`` and ``demo`` (the README's run command)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``sangkien`` app."""
