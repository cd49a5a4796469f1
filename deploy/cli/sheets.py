"""Files to import, read with the submission service's own spreadsheet code, and cut into the
requests the service takes.

The CLI reads a sheet exactly as ``POST /initiatives/import`` would (same headers, same cell
parsing, same spreadsheet row numbers), so it can send a file of any size as batches of
``POST /initiatives/batch`` and still report each refused row by the number the user sees.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.cli.errors import CliError, ExitCode, problem_line
from services.submission.adapters import spreadsheets
from services.submission.adapters.spreadsheet_columns import parse_count, resolve_columns
from services.submission.domain.errors import InvalidInput, Problem
from services.submission.schemas import MAX_BATCH

JSON = "application/json"
CONTENT_TYPES = {".csv": spreadsheets.CSV, ".xlsx": spreadsheets.XLSX, ".json": JSON}
SHEETS = (".csv", ".xlsx")
# The service's JSON body limit is 1 MiB by default (SANGKIEN_SUBMISSION_MAX_BODY_BYTES): a
# batch of 1,000 rows with long summaries can pass it, so batches are cut by size too.
MAX_BATCH_BYTES = 900_000
MAX_SHEET_ROWS = 1_000_000  # the service takes 20,000 rows an upload; the CLI cuts them up

Row = tuple[int, dict[str, Any]]  # (spreadsheet row number, the API's input dict)

TARGET_COLUMNS = {
    "union_id": ("Mã đơn vị", "Đơn vị"),
    "assigned_target": ("Chỉ tiêu giao", "Chỉ tiêu được giao"),
    "own_target": ("Chỉ tiêu đăng ký", "Chỉ tiêu tự đăng ký"),
    "reason": ("Lý do", "Lý do điều chỉnh"),
}


@dataclass(frozen=True)
class Refusal:
    """One reason a row was not stored."""

    row: int
    field: str
    message: str


@dataclass(frozen=True)
class Sheet:
    """A spreadsheet read as the service reads it; ``content`` keys the import's requests."""

    content: bytes
    table: spreadsheets.Table


def read_file(path: Path, accepted: Iterable[str]) -> tuple[bytes, str]:
    """The file's bytes and content type; exit 4 when it is missing, 1 when of another type."""
    accepted = tuple(accepted)
    if not path.is_file():
        raise CliError(f"no file {path}", ExitCode.NOT_FOUND)
    suffix = path.suffix.lower()
    if suffix not in accepted:
        kinds = (
            f"{', '.join(accepted[:-1])} or {accepted[-1]}" if len(accepted) > 1 else accepted[0]
        )
        raise CliError(f"{path} is not a {kinds} file: save it as one of those and try again")
    return path.read_bytes(), CONTENT_TYPES[suffix]


def read_sheet(path: Path) -> Sheet:
    """A CSV or .xlsx file's rows (header row 1), or exit 1 with what is wrong with it."""
    content, content_type = read_file(path, SHEETS)
    try:
        return Sheet(
            content, spreadsheets.read_table(content, content_type, max_rows=MAX_SHEET_ROWS)
        )
    except InvalidInput as error:
        raise _unreadable(path, error) from error


def _unreadable(path: Path, error: InvalidInput) -> CliError:
    return CliError(f"{path} cannot be imported", details=[_line(p) for p in error.problems])


def _line(problem: Problem) -> str:
    return problem_line(asdict(problem))


def units_body(content: bytes) -> bytes:
    """A JSON file of units as the service takes it: a bare list is wrapped in {"units": …}."""
    try:
        value = json.loads(content)
    except ValueError:
        return content  # the service says what is wrong with it
    return compact_json({"units": value}) if isinstance(value, list) else content


def initiative_rows(path: Path, sheet: Sheet) -> tuple[list[Row], list[Refusal]]:
    """The service's own reading of a support team's sheet: rows to send, and rows refused
    already (a cell that cannot be read, author lists that do not line up)."""
    try:
        mapped = spreadsheets.initiative_rows(sheet.table)
    except InvalidInput as error:  # a required column is missing, or named twice
        raise _unreadable(path, error) from error
    rows: list[Row] = []
    refused: list[Refusal] = []
    for number, row in mapped:
        problems: list[Problem] = row.pop(spreadsheets.PROBLEMS_KEY, [])
        refused += [Refusal(number, p.field, p.message) for p in problems]
        if not problems:
            rows.append((number, row))
    return rows, refused


def target_rows(path: Path, sheet: Sheet) -> tuple[list[Row], list[Refusal]]:
    """(row, {"union_id", "assigned_target", "own_target", "reason"}) of a targets sheet,
    empty cells left out; amounts as support teams write them ("1.500")."""
    headers = list(dict.fromkeys(header for _, cells in sheet.table for header in cells))
    try:
        columns = resolve_columns(headers, TARGET_COLUMNS, ("union_id",)) if sheet.table else {}
    except InvalidInput as error:
        raise _unreadable(path, error) from error
    if sheet.table and not {"assigned_target", "own_target"} & columns.keys():
        raise CliError(f"{path} has no assigned_target or own_target column")
    rows: list[Row] = []
    refused: list[Refusal] = []
    for number, cells in sheet.table:
        values = {field: cells.get(header, "") for field, header in columns.items()}
        if not values.get("union_id"):
            refused.append(Refusal(number, "union_id", "empty: which unit is this target for?"))
            continue
        row: dict[str, Any] = {
            "union_id": values["union_id"].lower(),
            "reason": values.get("reason"),
        }
        for field in ("assigned_target", "own_target"):
            if values.get(field):
                row[field] = parse_count(values[field])  # unreadable: the service names it
        rows.append((number, {k: v for k, v in row.items() if v not in (None, "")}))
    return rows, refused


def batches(
    rows: list[Row], *, max_rows: int = MAX_BATCH, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[list[Row]]:
    """``rows`` in order, in batches the batch endpoint takes: at most ``max_rows`` rows and
    about ``max_bytes`` of JSON each."""
    batch: list[Row] = []
    size = 0
    for row in rows:
        row_size = len(compact_json(row[1])) + 1  # the comma between rows
        if batch and (len(batch) == max_rows or size + row_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        yield batch


def idempotency_key(content: bytes, what: str, part: str) -> str:
    """The same key for the same request of the same file, so a re-run after a failure gets
    the stored answer instead of doing it twice (the service binds a key to its body)."""
    return f"sangkien-import:{what}:{hashlib.sha256(content).hexdigest()[:32]}:{part}"


def compact_json(value: Any) -> bytes:
    """JSON as the CLI sends it (compact, UTF-8), so batch sizes are measured as sent."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def refusals(row: int, problems: list[dict[str, Any]]) -> list[Refusal]:
    """The service's problems (``{"field", "rule", "message"}``) with one row."""
    return [
        Refusal(row, str(p.get("field", "row")), str(p.get("message", p.get("rule", ""))))
        for p in problems
    ]


def response_refusals(row: int, response: httpx.Response) -> list[Refusal]:
    """Why the service refused one row's request."""
    try:
        problems = response.json().get("problems") or []
    except (ValueError, AttributeError):  # not JSON, or not an object
        problems = []
    answered = f"the service answered {response.status_code}: {response.text[:200]}"
    return refusals(row, problems) or [Refusal(row, "row", answered)]
