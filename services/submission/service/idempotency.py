"""Idempotency keys: a retried request gets the first response and changes nothing.

The stored response is written in the same transaction as the change it reports, so either
both exist or neither does. A failed request (4xx) stores nothing: retrying it runs it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.tables import IdempotencyRow, now
from services.submission.domain.errors import Conflict, Problem


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a key."""

    status_code: int
    body: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def replay(
    session: AsyncSession, token_id: str, key: str, request_fingerprint: str
) -> StoredResponse | None:
    """The stored response for this key, None if new; Conflict if the key came with another body."""
    row = await session.get(IdempotencyRow, (token_id, key))
    if row is None:
        return None
    if row.fingerprint != request_fingerprint:
        raise Conflict(
            Problem(
                "Idempotency-Key",
                "same_request",
                f"key {key!r} was first used with a different request",
            )
        )
    return StoredResponse(row.status_code, row.response_body)


def remember(
    session: AsyncSession,
    token_id: str,
    key: str,
    request_fingerprint: str,
    response: StoredResponse,
) -> None:
    """Store the response for this key, in the current transaction."""
    session.add(
        IdempotencyRow(
            token_id=token_id,
            key=key,
            fingerprint=request_fingerprint,
            status_code=response.status_code,
            response_body=response.body,
            created_at=now(),
        )
    )
