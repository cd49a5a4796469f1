"""Who may call the notifier's API: bearer tokens checked with the submission service, scopes
checked against the registry the notifier follows.

- alerts and a unit's alert history: public (units, rules, counts: no personal data; the
  dashboard reads them across origins without a token);
- the delivery log, digests, silences: any valid token, for units inside its scope;
- creating and expiring a silence: an officer or an admin, for a unit inside its scope;
- an evaluation or digests on demand (they touch every unit): an admin of the national root.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from services.notifier.domain.registry import Registry
from shared.auth import RemotePrincipal, TokenCheckUnavailable, TokenIntrospector

SILENCERS = frozenset({"admin", "officer"})
ADMINS = frozenset({"admin"})


class AccessProblem(Exception):
    """A refused request: its status, error code, and the problem it names."""

    def __init__(
        self,
        status_code: int,
        error: str,
        field: str,
        rule: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code, self.error, self.headers = status_code, error, headers
        self.problem = {"field": field, "rule": rule, "message": message}


async def _access_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AccessProblem)
    body = {"error": error.error, "message": str(error), "problems": [error.problem]}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


def install(app: FastAPI) -> None:
    """Answer refusals as JSON naming the problem, like the submission service."""
    app.add_exception_handler(AccessProblem, _access_problem)


async def get_principal(request: Request) -> RemotePrincipal:
    """The caller named by the bearer token: 401 without a valid one, 503 when the submission
    service, which holds the tokens, cannot say."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("a bearer token is required: Authorization: Bearer <token>")
    introspector: TokenIntrospector = request.app.state.introspector
    try:
        principal = await introspector.principal(token.strip())
    except TokenCheckUnavailable as error:
        raise AccessProblem(
            503, "token_check_unavailable", "authorization", "submission_service", str(error)
        ) from error
    if principal is None:
        raise _unauthorized("the token is unknown, expired or revoked")
    return principal


PrincipalDep = Annotated[RemotePrincipal, Depends(get_principal)]


def registry_of(request: Request) -> Registry:
    """The registry, once read from its topic (503 before: scopes cannot be checked yet)."""
    if not request.app.state.registry_ready.is_set():
        raise AccessProblem(
            503, "not_ready", "registry", "ready", "the registry is still being read"
        )
    registry: Registry = request.app.state.registry
    return registry


def require_role(principal: RemotePrincipal, roles: frozenset[str]) -> None:
    """403 unless the token's role is one of ``roles``."""
    if principal.role not in roles:
        raise AccessProblem(
            403,
            "forbidden",
            "authorization",
            "role",
            f"role {principal.role} may not do this (needs {' or '.join(sorted(roles))})",
        )


def require_unit(request: Request, principal: RemotePrincipal, unit_id: str) -> None:
    """404 for a unit the registry does not know, 403 for one outside the token's scope."""
    unit = registry_of(request).units.get(unit_id)
    if unit is None:
        raise AccessProblem(404, "not_found", "unit_id", "exists", f"no unit {unit_id!r}")
    if not principal.covers(unit.path):
        raise _outside(principal, unit_id)


def require_root_admin(request: Request, principal: RemotePrincipal) -> None:
    """403 unless an admin whose scope is the whole hierarchy (a root unit)."""
    require_role(principal, ADMINS)
    scope = registry_of(request).units.get(principal.scope_union_id)
    if scope is None or scope.parent_id is not None:
        raise AccessProblem(
            403,
            "forbidden",
            "authorization",
            "scope",
            "this touches every unit: it needs an admin token over the whole hierarchy, not "
            f"one over {principal.scope_union_id!r}",
        )


def subtree_ids(request: Request, principal: RemotePrincipal) -> set[str] | None:
    """The unit ids inside the token's scope; None when the scope is a root (everything)."""
    registry = registry_of(request)
    scope = registry.units.get(principal.scope_union_id)
    if scope is None:
        return set()
    if scope.parent_id is None:
        return None
    found, todo = {scope.id}, [scope.id]
    while todo:
        children = registry.child_ids.get(todo.pop(), set())
        found.update(children)
        todo.extend(children)
    return found


def within(request: Request, principal: RemotePrincipal, rows: Iterable[Any]) -> list[Any]:
    """The rows whose ``unit_id`` is a unit inside the token's scope."""
    units = registry_of(request).units
    return [
        row
        for row in rows
        if (unit := units.get(row.unit_id)) is not None and principal.covers(unit.path)
    ]


def _outside(principal: RemotePrincipal, unit_id: str) -> AccessProblem:
    return AccessProblem(
        403,
        "forbidden",
        "unit_id",
        "scope",
        f"unit {unit_id!r} is outside the token's scope {principal.scope_union_id!r}",
    )


def _unauthorized(message: str) -> AccessProblem:
    return AccessProblem(
        401,
        "unauthorized",
        "authorization",
        "bearer_token",
        message,
        headers={"WWW-Authenticate": "Bearer"},
    )
