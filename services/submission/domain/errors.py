"""What goes wrong, said so that a caller can fix it: the field, the rule, and a sentence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``field`` names the input (dotted path), ``rule`` is a stable code."""

    field: str
    rule: str
    message: str
    row: int | None = None  # imports and batches: the row as the user sees it (sheet: header is 1)


class DomainError(Exception):
    """A request the rules refuse; nothing has been written."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = list(problems)


class InvalidInput(DomainError):
    """The input breaks a rule (HTTP 422)."""


class NotFound(DomainError):
    """Something the input refers to does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request contradicts the current state (HTTP 409)."""


class Forbidden(DomainError):
    """The caller's role or scope does not allow it (HTTP 403)."""


def invalid(field: str, rule: str, message: str) -> InvalidInput:
    """Shorthand for a single-problem InvalidInput."""
    return InvalidInput(Problem(field, rule, message))
