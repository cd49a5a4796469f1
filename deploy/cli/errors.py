"""Exit codes that scripts can rely on, and the one error type every command raises."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import httpx


class ExitCode(IntEnum):
    """What ``sangkien`` exits with (2 is Typer's own: the command line itself was wrong)."""

    OK = 0
    FAILED = 1  # the service refused the request, or the operation failed
    USAGE = 2
    UNREACHABLE = 3  # the stack (or one service) is not running or does not answer
    NOT_FOUND = 4  # the unit, campaign or file asked for does not exist
    PARTIAL = 5  # an import where some rows were refused (the others are stored)


class CliError(Exception):
    """A failure to report in one clear line (and optional detail lines) and exit with."""

    def __init__(
        self, message: str, code: ExitCode = ExitCode.FAILED, details: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or []


def problems_of(response: httpx.Response) -> list[str]:
    """The service's JSON error as lines ("field: message"), or its raw text."""
    try:
        body: Any = response.json()
    except ValueError:
        return [response.text[:500]] if response.text else []
    if isinstance(body, dict) and isinstance(body.get("problems"), list):
        return [problem_line(p) for p in body["problems"]]
    if isinstance(body, dict) and "detail" in body:
        return [str(body["detail"])]
    return [str(body)[:500]]


def problem_line(problem: dict[str, Any]) -> str:
    """One of the service's problems as "row 3: field: message" (the row when it has one)."""
    row = f"row {problem['row']}: " if problem.get("row") is not None else ""
    return f"{row}{problem.get('field', '?')}: {problem.get('message', problem.get('rule', ''))}"


def check(response: httpx.Response, what: str) -> httpx.Response:
    """``response`` when it succeeded; otherwise a CliError naming ``what`` and the problems."""
    if response.is_success:
        return response
    code = ExitCode.NOT_FOUND if response.status_code == 404 else ExitCode.FAILED
    raise CliError(
        f"{what}: the service answered {response.status_code}", code, problems_of(response)
    )
