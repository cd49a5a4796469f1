"""Every error as JSON that names the field and the rule:

{"error": "invalid_input", "message": "...", "problems": [{"field": "title", "rule": "...",
 "message": "..."}]}
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.submission.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
)

_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidInput, 422, "invalid_input"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Forbidden, 403, "forbidden"),
]


class HTTPProblem(Exception):
    """An error raised outside the domain (auth, content type, size) with its status."""

    def __init__(
        self,
        status_code: int,
        error: str,
        *problems: Problem,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status_code = status_code
        self.error = error
        self.problems = list(problems)
        self.headers = headers


def problem_body(error: str, problems: list[Problem]) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {
        "error": error,
        "message": "; ".join(f"{p.field}: {p.message}" for p in problems) or error,
        "problems": [_problem_json(p) for p in problems],
    }


def _problem_json(problem: Problem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "field": problem.field,
        "rule": problem.rule,
        "message": problem.message,
    }
    if problem.row is not None:
        body["row"] = problem.row
    return body


def validation_problems(
    errors: list[Any], *, drop_prefix: tuple[str, ...] = ("body",)
) -> list[Problem]:
    """Pydantic's errors as problems with dotted field paths (``authors.0.name``)."""
    problems = []
    for error in errors:
        if error.get("type") == "json_invalid":  # its location is a character offset, not a field
            problems.append(
                Problem("body", "json", f"the body is not valid JSON: {error.get('msg')}")
            )
            continue
        location = [str(part) for part in error.get("loc", ())]
        while location and location[0] in drop_prefix:
            location = location[1:]
        field = ".".join(location) or "body"
        problems.append(Problem(field, error.get("type", "invalid"), error.get("msg", "invalid")))
    return problems


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors and refusals outside the domain to JSON problem responses."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        status, error = next((s, e) for cls, s, e in _STATUS if isinstance(exc, cls))
        return JSONResponse(problem_body(error, exc.problems), status_code=status)

    @app.exception_handler(HTTPProblem)
    async def http_problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse(
            problem_body(exc.error, exc.problems), status_code=exc.status_code, headers=exc.headers
        )

    # Validation errors and HTTP errors: the shared handlers build_app installed, same shape.
