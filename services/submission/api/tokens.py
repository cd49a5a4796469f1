"""/tokens: admins issue and revoke API tokens within their own scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.paths import decode_path
from services.submission.api.deps import PrincipalDep, UowDep
from services.submission.api.idempotent import run_write
from services.submission.api.limits import JSON, require_content_type
from services.submission.domain.access import Action, Role, authorize
from services.submission.schemas import Input
from services.submission.service import tokens
from services.submission.service.units import load_unit
from shared.events import Slug
from shared.events.envelope import OpaqueId

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenRequest(Input):
    """A token to issue."""

    role: Role
    scope_union_id: Slug
    actor_id: OpaqueId
    label: Annotated[str, Field(min_length=1, max_length=200)]
    valid_days: int | None = Field(default=90, ge=1, le=3660)


class TokenIssued(BaseModel):
    """The new token: shown this once, never again."""

    id: str
    token: str
    role: Role
    scope_union_id: str
    actor_id: str
    expires_at: datetime | None


@router.post(
    "",
    status_code=201,
    response_model=TokenIssued,
    dependencies=[Depends(require_content_type(JSON))],
)
async def issue(
    body: TokenRequest, request: Request, uow: UowDep, principal: PrincipalDep
) -> Response:
    """Issue a token inside the caller's own scope (admins only)."""

    async def use_case(session: AsyncSession) -> TokenIssued:
        scope = await load_unit(session, body.scope_union_id, field="scope_union_id")
        authorize(principal, Action.MANAGE_REGISTRY, decode_path(scope.path))
        valid_for = timedelta(days=body.valid_days) if body.valid_days else None
        issued = await tokens.issue(
            session,
            role=body.role,
            scope_union_id=body.scope_union_id,
            actor_id=body.actor_id,
            label=body.label,
            valid_for=valid_for,
        )
        return TokenIssued(**issued.__dict__)

    return await run_write(request, uow, principal, use_case, status_code=201)


class TokenSelf(BaseModel):
    """What a token is: its holder's role and scope, and when it expires (never the token)."""

    id: str
    actor_id: str
    role: Role
    scope_union_id: str
    expires_at: datetime | None


@router.get("/self", response_model=TokenSelf)
async def introspect(principal: PrincipalDep) -> TokenSelf:
    """The bearer token's own role, scope and expiry: how the other services (the notifier)
    check a token, since tokens live in this service's database only; 401 when it is not
    valid."""
    expires_at = principal.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # SQLite gives naive UTC times back
    return TokenSelf(
        id=principal.token_id,
        actor_id=principal.actor_id,
        role=principal.role,
        scope_union_id=principal.scope_union_id,
        expires_at=expires_at,
    )


@router.delete("/{token_id}", status_code=204)
async def revoke(token_id: str, uow: UowDep, principal: PrincipalDep) -> Response:
    """Revoke a token at once (admins only)."""
    authorize(principal, Action.MANAGE_REGISTRY)
    async with uow.transaction() as session:
        token = await tokens.revoke(session, token_id)
        scope = await load_unit(session, token.scope_union_id, field="scope_union_id")
        authorize(principal, Action.MANAGE_REGISTRY, decode_path(scope.path))
    return Response(status_code=204)
