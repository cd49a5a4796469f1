"""Uploaded spreadsheets (CSV or .xlsx) read into rows, and rows mapped to API input dicts.

Nothing here touches the database: the caller validates each dict (``InitiativeCreate``,
``UnitCreate``) and reports problems by row. Row numbers are the spreadsheet's own (the header
is row 1, the first data row 2), so a problem points at the row the user sees in Excel.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from services.submission.adapters.spreadsheet_columns import (
    INITIATIVE_COLUMNS,
    INITIATIVE_REQUIRED,
    UNIT_COLUMNS,
    UNIT_REQUIRED,
    category_code,
    channel_codes,
    level_code,
    parse_count,
    parse_date,
    parse_moment,
    recogniser_code,
    resolve_columns,
    split_list,
    split_positional,
)
from services.submission.domain.errors import InvalidInput, Problem

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEMS_KEY = "__problems__"
MAX_FORMULAS_REPORTED = 50  # enough to show the pattern without a megabyte of problems
# "=" and "@" begin a formula and nothing a support team writes. "+" and "-" begin phone
# numbers ("+84 912 …") and list items ("- giảm 10% chi phí"), so they are kept: an export
# neutralises them by writing text as text (the notifier's digest workbook does).
FORMULA_SIGNS = frozenset("=@")

Table = list[tuple[int, dict[str, str]]]
Cells = Iterator[tuple[int, list[str]]]

_INITIATIVE_VALUES: Mapping[str, Callable[[str], Any]] = {
    # Ids are lower-case slugs, so "DAK-LAK-2022" can only mean "dak-lak-2022".
    "campaign_id": str.lower,
    "union_id": str.lower,
    "title": str,
    "summary": str,
    "field": str,
    "recognised_by": recogniser_code,
    "recognised_on": parse_date,
    "application_date": parse_date,
    "estimated_benefit_vnd": parse_count,
    "award": str,
    "external_ref": str,
    "submitted_at": parse_moment,
}
_UNIT_VALUES: Mapping[str, Callable[[str], Any]] = {
    "id": str.lower,
    "name": str,
    "parent_id": str.lower,
    "level": level_code,
    "sector": str,
    "emulation_cluster": str,
    "members": parse_count,
}
_HEAD_VALUES: Mapping[str, tuple[str, Callable[[str], Any]]] = {
    "head_name": ("name", str),
    "head_email": ("email", str),
    "head_webhook_url": ("webhook_url", str),
    "head_alert_channels": ("alert_channels", channel_codes),
}


def read_table(content: bytes, content_type: str, *, max_rows: int = 20_000) -> Table:
    """The non-empty rows of a CSV or .xlsx upload as (spreadsheet row number, {header: text})."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == CSV:
        return _table(_csv_cells(_decode(content)), max_rows)
    if kind == XLSX:
        return _read_xlsx(content, max_rows)
    raise InvalidInput(Problem("file", "content_type", f"expected {CSV} or {XLSX}, got {kind}"))


def header_name(text: str) -> str:
    """A header as rows are keyed: stripped, NFC, case-folded, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", text.casefold()).split())


def _table(cells: Cells, max_rows: int) -> Table:
    _, header = next(cells, (1, []))
    headers = [header_name(text) for text in header]
    if not any(headers):
        raise InvalidInput(Problem("file", "header", "row 1 must name the columns", 1))
    _refuse_duplicate_headers(headers)
    table: Table = []
    formulas: list[Problem] = []
    for number, row in cells:
        values = {name: row[i] if i < len(row) else "" for i, name in enumerate(headers) if name}
        if not any(values.values()):
            continue
        if len(table) == max_rows:
            message = f"more than {max_rows} rows: split the file"
            raise InvalidInput(Problem("file", "max_rows", message, number))
        formulas.extend(_formula_texts(number, row))
        table.append((number, values))
    if formulas:
        raise InvalidInput(*formulas[:MAX_FORMULAS_REPORTED])
    return table


def _formula_texts(row: int, cells: list[str]) -> Iterator[Problem]:
    # A text starting with = or @ is a formula to Excel and LibreOffice: stored, it would run
    # in whoever opens an export of it (CSV injection, "=HYPERLINK(...)", "@SUM(cmd|...)").
    for column, text in enumerate(cells, start=1):
        if text[:1] in FORMULA_SIGNS:
            letter = get_column_letter(column)
            message = (
                f"cell {letter}{row} starts with {text[0]!r}, which a spreadsheet runs as a "
                "formula: remove the sign or begin with a word"
            )
            yield Problem(letter, "no_formulas", message, row)


def _refuse_duplicate_headers(headers: list[str]) -> None:
    positions: dict[str, list[str]] = {}
    for index, name in enumerate(headers, start=1):
        if name:
            positions.setdefault(name, []).append(get_column_letter(index))
    problems = [
        Problem("file", "duplicate_header", f"{name!r} heads columns {', '.join(letters)}", 1)
        for name, letters in positions.items()
        if len(letters) > 1
    ]
    if problems:
        raise InvalidInput(*problems)


# --- CSV -------------------------------------------------------------------------------------


def _decode(content: bytes) -> str:
    # Excel's "CSV UTF-8" starts with a BOM; other tools write none. Either way it is UTF-8:
    # guessing a legacy code page (TCVN3, VNI, cp1258) would turn names into mojibake silently.
    skipped = len(codecs.BOM_UTF8) if content.startswith(codecs.BOM_UTF8) else 0
    try:
        return content[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        line = content.count(b"\n", 0, offset) + 1
        message = (
            f"not UTF-8: byte 0x{content[offset]:02X} at offset {offset} (line {line}); "
            "save the file as 'CSV UTF-8'"
        )
        raise InvalidInput(Problem("file", "utf8", message)) from error


def _delimiter(text: str) -> str:
    # Vietnamese-locale Excel writes ";" (the comma is the decimal mark there); whichever
    # splits the header into more columns is the file's delimiter.
    def width(delimiter: str) -> int:
        return len(next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), []))

    return ";" if width(";") > width(",") else ","


def _csv_cells(text: str) -> Cells:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, [unicodedata.normalize("NFC", cell).strip() for cell in row]
    except csv.Error as error:
        raise InvalidInput(
            Problem("file", "csv", f"unreadable CSV: {error}", number + 1)
        ) from error


# --- XLSX ------------------------------------------------------------------------------------


def _read_xlsx(content: bytes, max_rows: int) -> Table:
    formulas: list[Problem] = []
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as error:  # openpyxl lets zip, XML and its own errors through as they are
        raise _not_xlsx(error) from error
    try:
        if not workbook.worksheets:
            raise InvalidInput(Problem("file", "xlsx", "the workbook has no worksheet"))
        sheet = workbook.worksheets[0]
        # Some writers record a wrong size; without it every cell that exists is read.
        sheet.reset_dimensions()
        table = _table(_xlsx_cells(sheet.iter_rows(), formulas), max_rows)
    except InvalidInput as refused:
        # Text that looks like a formula was refused once every row was read: name the
        # formula cells with it, row by row, so one round of fixes is enough.
        if formulas and all(p.rule == "no_formulas" for p in refused.problems):
            every = sorted([*formulas, *refused.problems], key=_cell_order)
            raise InvalidInput(*every[:MAX_FORMULAS_REPORTED]) from None
        raise
    except Exception as error:  # a sheet's XML is only parsed while its rows are read
        raise _not_xlsx(error) from error
    finally:
        workbook.close()
    if formulas:
        raise InvalidInput(*formulas[:MAX_FORMULAS_REPORTED])
    return table


def _cell_order(problem: Problem) -> tuple[int, int, str]:
    return problem.row or 0, len(problem.field), problem.field


def _not_xlsx(error: Exception) -> InvalidInput:
    message = f"not a readable .xlsx workbook ({type(error).__name__}); save it as .xlsx"
    return InvalidInput(Problem("file", "xlsx", message))


def _xlsx_cells(rows: Iterator[tuple[Any, ...]], formulas: list[Problem]) -> Cells:
    # Missing rows come back empty, so counting from 1 gives the sheet's own row numbers.
    for number, row in enumerate(rows, start=1):
        texts = []
        for column, cell in enumerate(row, start=1):
            if cell.data_type == "f":
                formulas.append(_formula_problem(number, column))
                texts.append("")
            else:
                texts.append(_cell_text(cell.value))
        yield number, texts


def _formula_problem(row: int, column: int) -> Problem:
    # Refused, not evaluated: a formula's cached value may be stale, and a stored "=..." would
    # run in whoever opens an export later (formula injection).
    letter = get_column_letter(column)
    message = f"cell {letter}{row} holds a formula: type the value itself"
    return Problem(letter, "no_formulas", message, row)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).strip()


# --- rows to input dicts ---------------------------------------------------------------------


def initiative_rows(table: Table) -> list[tuple[int, dict[str, Any]]]:
    """Rows as ``InitiativeCreate`` dicts; a row's mapping problems under ``__problems__``.

    Pop ``PROBLEMS_KEY`` ("__problems__", a list of ``Problem`` with the row set) before
    validating: a row that has it must be reported with those problems, not created. Empty
    optional cells are left out (defaults apply); values that cannot be read (a date "31/02/2022",
    an unknown category) are kept as written so validation names the field. Rows with no value in
    any known column (only a note, say) are skipped. Raises ``InvalidInput`` listing every
    missing required column (and any field given two columns); an empty table maps to none.
    """
    if not table:  # no rows: the headers are unknown, and there is nothing to import anyway
        return []
    columns = resolve_columns(_headers(table), INITIATIVE_COLUMNS, INITIATIVE_REQUIRED)
    rows = []
    for number, cells in table:
        values = {field: cells.get(header, "") for field, header in columns.items()}
        if any(values.values()):
            rows.append((number, _initiative(number, values)))
    return rows


def _headers(table: Table) -> list[str]:
    return list(dict.fromkeys(header for _, cells in table for header in cells))


def _initiative(row: int, values: dict[str, str]) -> dict[str, Any]:
    initiative = {
        field: read(values[field])
        for field, read in _INITIATIVE_VALUES.items()
        if values.get(field)
    }
    authors, problems = _authors(row, values)
    if authors:
        initiative["authors"] = authors
    if problems:
        initiative[PROBLEMS_KEY] = problems
    return initiative


def _authors(row: int, values: dict[str, str]) -> tuple[list[dict[str, str]], list[Problem]]:
    names = split_list(values.get("authors", ""))
    categories = [category_code(text) for text in split_list(values.get("author_category", ""))]
    identifiers = split_positional(values.get("author_identifier", ""))
    problems = []
    if len(categories) == 1:
        categories *= len(names)
    if categories and len(categories) != len(names):
        problems.append(_count_problem(row, "author_category", len(names), len(categories)))
        categories = []
    if identifiers and len(identifiers) != len(names):
        problems.append(_count_problem(row, "author_identifier", len(names), len(identifiers)))
        identifiers = []
    authors = []
    for index, name in enumerate(names):
        author = {"name": name}
        if categories:
            author["category"] = categories[index]
        if identifiers and identifiers[index]:
            author["identifier"] = identifiers[index]
        authors.append(author)
    return authors, problems


def _count_problem(row: int, field: str, authors: int, given: int) -> Problem:
    one = "one for all or " if field == "author_category" else ""
    message = f"{authors} authors but {given} values: give {one}one per author, in author order"
    return Problem(field, "count_mismatch", message, row)


def unit_rows(table: Table) -> list[tuple[int, dict[str, Any]]]:
    """Rows as ``UnitCreate`` dicts, head contacts nested under "head"; empty cells left out."""
    if not table:
        return []
    columns = resolve_columns(_headers(table), UNIT_COLUMNS, UNIT_REQUIRED)
    rows = []
    for number, cells in table:
        values = {field: cells.get(header, "") for field, header in columns.items()}
        if any(values.values()):
            rows.append((number, _unit(values)))
    return rows


def _unit(values: dict[str, str]) -> dict[str, Any]:
    unit = {field: read(values[field]) for field, read in _UNIT_VALUES.items() if values.get(field)}
    head = {
        key: read(values[field]) for field, (key, read) in _HEAD_VALUES.items() if values.get(field)
    }
    # A contact without a name still makes a head, so validation says head.name is missing
    # instead of the e-mail address being dropped without a word.
    if head:
        unit["head"] = head
    return unit
