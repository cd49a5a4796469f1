"""Reading the rows of an import from the request: JSON, CSV or Excel."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from services.submission.adapters import spreadsheets
from services.submission.api.errors import HTTPProblem, validation_problems
from services.submission.api.limits import JSON
from services.submission.domain.errors import Problem
from services.submission.schemas import InitiativeBatch, UnitImport


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json_body(request: Request) -> Any:
    content = await request.body()
    try:
        return json.loads(content)
    except UnicodeDecodeError as error:  # before ValueError: it is one
        message = (
            f"the body is not UTF-8: byte 0x{content[error.start]:02X} at offset {error.start}"
        )
        raise HTTPProblem(400, "invalid_body", Problem("body", "utf8", message)) from error
    except ValueError as error:
        raise HTTPProblem(
            400, "invalid_json", Problem("body", "json", f"the body is not valid JSON: {error}")
        ) from error


async def unit_rows_from_request(request: Request) -> list[dict[str, Any]]:
    """Units to import: ``{"units": [...]}`` as JSON, or a CSV or Excel sheet."""
    if _content_type(request) == JSON:
        try:
            return UnitImport.model_validate(await _json_body(request)).units
        except ValidationError as error:
            raise HTTPProblem(422, "invalid_input", *validation_problems(error.errors())) from error
    table = spreadsheets.read_table(await request.body(), _content_type(request))
    return [row for _, row in spreadsheets.unit_rows(table)]


async def initiative_rows_from_request(request: Request) -> list[tuple[int, dict[str, Any]]]:
    """Initiatives of a CSV or Excel sheet, each with its spreadsheet row number."""
    table = spreadsheets.read_table(await request.body(), _content_type(request))
    return spreadsheets.initiative_rows(table)


async def batch_rows_from_request(request: Request) -> list[dict[str, Any]]:
    """The rows of a JSON batch, checked only for shape: each row is checked on its own later."""
    try:
        return InitiativeBatch.model_validate(await _json_body(request)).initiatives
    except ValidationError as error:
        raise HTTPProblem(422, "invalid_input", *validation_problems(error.errors())) from error
