"""A digest as an Excel workbook (openpyxl) for the meeting: the ranked units on the first
sheet, then the laggards, the units with no initiative and the review backlog, each under a
title line and a header row of Vietnamese column names."""

from __future__ import annotations

import io
import re
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.notifier.adapters.digest_render import digest_json
from services.notifier.domain import digest_text as words
from services.notifier.domain.digest import Digest

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROW = 2  # row 1 is the sheet's title
# Readable widths (characters) for the long columns; the others get the header's length.
WIDE = {"name": 40, "status_label": 18}
FORMATS = {"percentage": "0.00", "expected": "0.0", "rank_change": "+0;-0;0"}


def workbook_bytes(digest: Digest) -> bytes:
    """The .xlsx file of a digest."""
    values = digest_json(digest)
    book = Workbook()
    book.remove(book.worksheets[0])  # a fresh workbook's one empty sheet
    title = words.intro(digest)  # the period, the union, the campaign and the as-of time
    for name, sheet_name, columns in words.TABLES:
        sheet = book.create_sheet(sheet_name)
        _fill(sheet, title, columns, values[name])
    book.properties.title = words.subject(digest)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _fill(
    sheet: Worksheet,
    title: str,
    columns: words.Columns,
    rows: list[dict[str, Any]],
) -> None:
    sheet.cell(row=1, column=1, value=title).font = Font(bold=True)
    for index, (key, header) in enumerate(columns, start=1):
        sheet.cell(row=HEADER_ROW, column=index, value=header).font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(index)].width = WIDE.get(key, len(header) + 2)
    for offset, row in enumerate(rows, start=1):
        for index, (key, _) in enumerate(columns, start=1):
            cell = sheet.cell(row=HEADER_ROW + offset, column=index, value=_cell(key, row[key]))
            if cell.data_type == "f":
                # openpyxl stores any text starting with "=" as a formula; a unit named
                # "=HYPERLINK(...)" must reach the meeting as text, not run there.
                cell.data_type = "s"
            if key in FORMATS:
                cell.number_format = FORMATS[key]
    sheet.freeze_panes = sheet.cell(row=HEADER_ROW + 1, column=1)


def _cell(key: str, value: Any) -> Any:
    # A unit new since the last digest has no rank change: the sheet says so in words.
    if key == "rank_change" and value is None:
        return words.NEW
    return value


def filename(digest: Digest) -> str:
    """``xep-hang-ldld-tp-bmt-week-2022-05-09.xlsx``: ASCII, safe in a Content-Disposition."""
    unit = re.sub(r"[^A-Za-z0-9._-]+", "-", digest.recipient_id).strip("-") or "don-vi"
    return f"xep-hang-{unit}-{digest.period.kind.value}-{digest.period.start.isoformat()}.xlsx"
