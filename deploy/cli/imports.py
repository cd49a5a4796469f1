"""``sangkien import units|targets|initiatives FILE``: files into the submission service.

Units go whole (the service checks the tree and stores all or nothing); targets one request a
row; a support team's initiatives in batches of up to 1,000 rows, each with an Idempotency-Key
made from the file and the batch, so running the same command again after a failure stores
nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from deploy.cli.common import console, progress_bar, stack_of
from deploy.cli.errors import CliError, ExitCode, check
from deploy.cli.sheets import (
    JSON,
    Refusal,
    Row,
    batches,
    compact_json,
    idempotency_key,
    initiative_rows,
    read_file,
    read_sheet,
    refusals,
    response_refusals,
    target_rows,
    units_body,
)

import_app = typer.Typer(
    help="Import the union hierarchy, a campaign's targets or a support team's initiatives.",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(help="The file to import.", show_default=False)]
BATCH_TIMEOUT = 300.0  # seconds: 1,000 rows, each checked for duplicates, on SQLite


def register(app: typer.Typer) -> None:
    """Add ``sangkien import …`` to the app."""
    app.add_typer(import_app, name="import")


@import_app.command("units")
def import_units(ctx: typer.Context, file: FileArgument) -> None:
    """Import the union hierarchy from a CSV, .xlsx or JSON file: all of it or nothing.

    The whole tree is checked first and every problem is reported by row; nothing is stored
    unless every row is right. JSON: {"units": [...]} or a bare list.

    Columns: id (Mã đơn vị), name (Tên đơn vị), parent_id (Mã đơn vị cấp trên), level (Cấp),
    and optionally sector, emulation_cluster, members, head_name, head_email.
    """
    content, content_type = read_file(file, (".csv", ".xlsx", ".json"))
    if content_type == JSON:
        content = units_body(content)
    # One request: the service checks and stores the tree in one transaction, so there is no
    # row-by-row progress to show, only that it is working.
    with (
        stack_of(ctx).client("submission", timeout=BATCH_TIMEOUT) as client,
        console.status(f"importing {file.name}: the service checks the whole tree, then stores it"),
    ):
        response = client.post(
            "/units/import", content=content, headers={"Content-Type": content_type}
        )
    report = check(response, f"{file} was refused, nothing was stored").json()
    console.print(f"{file}: {report['created']} units created, {report['updated']} updated")


@import_app.command("targets")
def import_targets(
    ctx: typer.Context,
    file: FileArgument,
    campaign: Annotated[str, typer.Option(help="The campaign the targets are for.")],
) -> None:
    """Set each unit's targets from a CSV or .xlsx sheet, one row per unit.

    Columns: union_id (Mã đơn vị), assigned_target (Chỉ tiêu giao), own_target (Chỉ tiêu đăng
    ký), reason (Lý do). Every change is kept with its reason. Rows the service refuses are
    listed with its problem; the others are stored (exit 5 when some were refused).
    """
    sheet = read_sheet(file)
    rows, refused = target_rows(file, sheet)
    with stack_of(ctx).client("submission") as client:
        if client.get(f"/campaigns/{campaign}").status_code == 404:
            raise CliError(f"no campaign {campaign}", ExitCode.NOT_FOUND)
        stored = 0
        with progress_bar() as bar:
            task = bar.add_task(f"targets of {campaign}", total=len(rows))
            for number, row in rows:
                problems = _set_target(client, campaign, number, row, sheet.content)
                refused += problems
                stored += not problems
                bar.advance(task)
    _finish(file, f"{stored} targets set", stored, refused)


def _set_target(
    client: httpx.Client, campaign: str, number: int, row: dict[str, Any], content: bytes
) -> list[Refusal]:
    """PUT one row's targets; its problems when the service refuses them."""
    change = {key: value for key, value in row.items() if key != "union_id"}
    response = client.put(
        f"/campaigns/{campaign}/targets/{row['union_id']}",
        json=change,
        headers={"Idempotency-Key": idempotency_key(content, f"targets-{campaign}", str(number))},
    )
    if response.status_code in (401, 403):  # the token, not the row: every row would fail
        check(response, "setting targets")
    return [] if response.is_success else response_refusals(number, response)


@import_app.command("initiatives")
def import_initiatives(ctx: typer.Context, file: FileArgument) -> None:
    """Register a support team's initiatives from a CSV or .xlsx sheet of any size.

    The headers are the ones POST /initiatives/import takes ("Mã đợt", "Mã đơn vị", "Tên sáng
    kiến", "Lĩnh vực", "Tác giả", "Đối tượng", "Cấp công nhận", "Ngày công nhận", "Ngày áp
    dụng", "Mã"…; dates day-first). Refused rows are listed by their row in the sheet; the
    others are stored (exit 5 when some were refused). Running it again stores nothing twice.
    """
    sheet = read_sheet(file)
    rows, refused = initiative_rows(file, sheet)
    parts = list(batches(rows))
    created = earlier = 0
    with stack_of(ctx).client("submission", timeout=BATCH_TIMEOUT) as client, progress_bar() as bar:
        task = bar.add_task(f"initiatives of {file.name}", total=len(rows))
        for index, part in enumerate(parts, start=1):
            # The key names the batch by its place and rows: the same file cut the same way.
            key = idempotency_key(
                sheet.content, "initiatives", f"{index}:{part[0][0]}-{part[-1][0]}"
            )
            response = _send_batch(client, part, key)
            _check_batch(response, index, parts)
            now, before, problems = _outcome(response, part)
            created, earlier, refused = created + now, earlier + before, refused + problems
            bar.advance(task, len(part))
    summary = f"{created} initiatives registered, {earlier} were already registered"
    _finish(file, summary, created + earlier, refused)


def _outcome(response: httpx.Response, part: list[Row]) -> tuple[int, int, list[Refusal]]:
    """(registered now, registered before, refusals by sheet row) of one batch's report."""
    report = response.json()
    created, earlier = report["created"], report["already_registered"]
    if response.headers.get("Idempotent-Replayed") == "true":  # an earlier run's answer
        created, earlier = 0, created + earlier
    refused = [
        refusal
        for result in report["rows"]
        if result["status"] == "error"
        # The batch numbers its rows from 1; the sheet's numbers are what the user knows.
        for refusal in refusals(part[result["row"] - 1][0], result["problems"])
    ]
    return created, earlier, refused


def _send_batch(client: httpx.Client, part: list[Row], key: str) -> httpx.Response:
    body = compact_json({"initiatives": [row for _, row in part]})
    headers = {"Content-Type": JSON, "Idempotency-Key": key}
    return client.post("/initiatives/batch", content=body, headers=headers)


def _check_batch(response: httpx.Response, index: int, parts: list[list[Row]]) -> None:
    """Stop at a batch the service refused whole (a token without the right, say)."""
    rows = f"rows {parts[index - 1][0][0]}–{parts[index - 1][-1][0]}"
    stored = f"batches 1–{index - 1} are stored; " if index > 1 else ""
    try:
        check(response, f"batch {index} of {len(parts)} ({rows}) was refused")
    except CliError as error:
        error.details.append(f"{stored}running the same command again stores nothing twice")
        raise


def _finish(file: Path, summary: str, stored: int, refused: list[Refusal]) -> None:
    """The report: refused rows by row number, a summary, and the exit code for both."""
    rows = sorted({r.row for r in refused})
    if refused:
        table = Table(title=f"{_rows(len(rows))} of {file.name} refused")
        for column in ("row", "field", "problem"):
            table.add_column(column)
        for refusal in sorted(refused, key=lambda r: r.row):
            table.add_row(str(refusal.row), refusal.field, refusal.message)
        console.print(table)
    console.print(f"{file}: {summary}, {_rows(len(rows))} refused", highlight=False)
    if rows:
        partial = stored > 0
        raise CliError(
            f"{_rows(len(rows))} of {file} refused"
            + (" (the others are stored)" if partial else ", nothing was stored"),
            ExitCode.PARTIAL if partial else ExitCode.FAILED,
        )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
