"""``sangkien``: the Typer app, its global ``--workdir`` and the one place errors are reported.

Every command raises ``CliError`` (or lets an ``httpx.TransportError`` through); the root group
turns it into a red line on stderr and the exit code scripts rely on (``errors.ExitCode``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from typer.core import TyperGroup

from deploy.cli import campaign, imports, rebuild, reports, stack
from deploy.cli.common import report_error, stack_of
from deploy.cli.context import DEFAULT_WORKDIR
from deploy.cli.errors import CliError, ExitCode

HELP = """\
The operator's command line of "01 triệu sáng kiến": union members and support teams register
initiatives with the submission service, the scoring service counts them per union up the
hierarchy in real time, and the notifier tells union heads whose units fall behind pace.

Start the stack with `sangkien stack up`, import the union hierarchy, targets and support teams'
spreadsheets with `sangkien import`, then follow a unit with `sangkien progress` and
`sangkien leaderboard`, and the laggards with `sangkien alerts`.

Exit codes: 0 done; 1 refused or failed; 2 wrong command line; 3 the stack (or one service) is
not running; 4 no such unit, campaign or file; 5 an import where some rows were refused (the
others are stored).
"""


class _Commands(TyperGroup):
    """The root group: errors from any command become one message and an exit code."""

    # Typer's own Context at run time (its click is vendored; the base class names that one's).
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        """Run the command; report a CliError or an unreachable service and exit with its code."""
        try:
            return super().invoke(ctx)
        except CliError as error:
            report_error(error.message, error.details)
            raise typer.Exit(error.code) from None
        except httpx.TransportError as error:
            report_error(_unreachable(ctx, error), [])
            raise typer.Exit(ExitCode.UNREACHABLE) from None


def _unreachable(ctx: typer.Context, error: httpx.TransportError) -> str:
    """Which service did not answer, at which address, and how to start the stack."""
    try:
        url = str(error.request.url)
    except RuntimeError:  # raised before a request was built
        url = "?"
    urls = stack_of(ctx).urls
    service, base = next(
        ((name, base) for name, base in urls.items() if url.startswith(base)), ("", url)
    )
    what = f"the {service} service at {base}" if service else base
    if isinstance(error, httpx.TimeoutException):
        why = "it did not answer in time"
    else:
        why = str(error) or type(error).__name__
    env = f"SANGKIEN_{service.upper()}_URL" if service else "SANGKIEN_<SERVICE>_URL"
    return (
        f"cannot reach {what} ({why}): is the stack running? "
        f"Start it with `sangkien stack up`, or set {env} to where it runs"
    )


app = typer.Typer(
    cls=_Commands,
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would print the admin token
)


@app.callback()
def main(
    ctx: typer.Context,
    workdir: Annotated[
        Path | None,
        typer.Option(
            help=f"The stack's folder: its stack.env (addresses), admin.token, launcher.pid "
            f"and logs (default {DEFAULT_WORKDIR}; `demo` has its own).",
            envvar="SANGKIEN_WORKDIR",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Every command reads the stack it acts on from --workdir."""
    # None when not given, so a command with a folder of its own (demo) can tell.
    ctx.obj = workdir


stack.register(app)
imports.register(app)
reports.register(app)
rebuild.register(app)
campaign.register(app)
