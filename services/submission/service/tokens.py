"""API tokens: issued once (only a hash is kept), checked on every request, expired, revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.tables import ApiTokenRow, UnitRow, now
from services.submission.domain.access import Principal, Role
from services.submission.domain.errors import NotFound, Problem

TOKEN_PREFIX = "sk_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``token`` is shown once and never stored."""

    id: str
    token: str
    role: Role
    scope_union_id: str
    actor_id: str
    expires_at: datetime | None


async def issue(
    session: AsyncSession,
    *,
    role: Role,
    scope_union_id: str,
    actor_id: str,
    label: str,
    valid_for: timedelta | None,
) -> IssuedToken:
    """Create a token for ``role`` over the subtree of ``scope_union_id``."""
    if await session.get(UnitRow, scope_union_id) is None:
        raise NotFound(Problem("scope_union_id", "exists", f"no unit {scope_union_id!r}"))
    token_id = secrets.token_hex(8)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now() + valid_for if valid_for else None
    session.add(
        ApiTokenRow(
            id=token_id,
            token_hash=_hash(token),
            role=role,
            scope_union_id=scope_union_id,
            actor_id=actor_id,
            label=label,
            created_at=now(),
            expires_at=expires_at,
        )
    )
    return IssuedToken(token_id, token, role, scope_union_id, actor_id, expires_at)


async def authenticate(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a valid token; None when unknown, expired or revoked."""
    row = (
        await session.exec(select(ApiTokenRow).where(ApiTokenRow.token_hash == _hash(token)))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now():
        return None
    return Principal(
        token_id=row.id,
        actor_id=row.actor_id,
        role=Role(row.role),
        scope_union_id=row.scope_union_id,
        expires_at=row.expires_at,
    )


async def revoke(session: AsyncSession, token_id: str) -> ApiTokenRow:
    """Revoke a token at once; later requests with it get 401."""
    row = await session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound(Problem("token_id", "exists", f"no token {token_id!r}"))
    row.revoked_at = row.revoked_at or now()
    session.add(row)
    return row


async def list_tokens(session: AsyncSession) -> list[ApiTokenRow]:
    """Every token, newest first (hashes only)."""
    return list(
        (await session.exec(select(ApiTokenRow).order_by(col(ApiTokenRow.created_at).desc()))).all()
    )
