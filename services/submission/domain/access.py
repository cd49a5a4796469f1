"""Who may do what: a role and a union scope per token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.submission.domain.errors import Forbidden, Problem


class Role(StrEnum):
    """What a token's holder does in the campaign."""

    ADMIN = "admin"  # manages the registry, campaigns, targets and tokens
    OFFICER = "officer"  # registers, reviews and withdraws initiatives in their subtree
    IMPORTER = "importer"  # a support team: registers and imports, may back-date paper forms
    VIEWER = "viewer"  # reads their subtree


class Action(StrEnum):
    """Things a request can do."""

    MANAGE_REGISTRY = "manage_registry"
    REGISTER = "register"
    BACKDATE = "backdate"
    IMPORT = "import"
    REVIEW = "review"
    WITHDRAW = "withdraw"
    READ = "read"


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.MANAGE_REGISTRY: frozenset({Role.ADMIN}),
    Action.REGISTER: frozenset({Role.ADMIN, Role.OFFICER, Role.IMPORTER}),
    Action.BACKDATE: frozenset({Role.IMPORTER}),
    Action.IMPORT: frozenset({Role.ADMIN, Role.OFFICER, Role.IMPORTER}),
    Action.REVIEW: frozenset({Role.ADMIN, Role.OFFICER}),
    Action.WITHDRAW: frozenset({Role.ADMIN, Role.OFFICER}),
    Action.READ: frozenset(Role),
}


@dataclass(frozen=True)
class Principal:
    """The caller, as its token says: an id for the audit trail, a role, a scope."""

    token_id: str
    actor_id: str  # recorded as reviewer / entered_by: an opaque id, never a name
    role: Role
    scope_union_id: str
    expires_at: datetime | None = None  # None: never (or not known, for a system principal)

    def may(self, action: Action) -> bool:
        """Whether the role allows ``action`` anywhere."""
        return self.role in ALLOWED[action]

    def covers(self, union_path: Sequence[str]) -> bool:
        """Whether a unit with this path is inside the caller's subtree."""
        return self.scope_union_id in union_path


def authorize(
    principal: Principal, action: Action, union_path: Sequence[str] | None = None
) -> None:
    """Raise Forbidden unless the role allows ``action`` on a unit inside the caller's scope."""
    if not principal.may(action):
        raise Forbidden(Problem("authorization", "role", f"role {principal.role} may not {action}"))
    if union_path is not None and not principal.covers(union_path):
        unit = union_path[-1] if union_path else "?"
        raise Forbidden(
            Problem(
                "union_id",
                "scope",
                f"unit {unit!r} is outside the token's scope {principal.scope_union_id!r}",
            )
        )
