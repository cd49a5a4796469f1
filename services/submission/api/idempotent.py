"""Running a write use case with or without an Idempotency-Key header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.api.errors import HTTPProblem
from services.submission.domain.access import Principal
from services.submission.domain.errors import Problem
from services.submission.service import idempotency
from services.submission.service.unit_of_work import UnitOfWork

MAX_KEY_LENGTH = 200

UseCase = Callable[[AsyncSession], Awaitable[BaseModel]]


async def run_write(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    use_case: UseCase,
    *,
    status_code: int = 200,
) -> Response:
    """Run ``use_case`` in one transaction; with an Idempotency-Key, at most once per key."""
    key = request.headers.get("idempotency-key")
    if key is None:
        async with uow.transaction() as session:
            result = await use_case(session)
        return _json(status_code, result.model_dump_json())
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise HTTPProblem(
            422,
            "invalid_input",
            Problem("Idempotency-Key", "length", f"1 to {MAX_KEY_LENGTH} characters"),
        )
    request_fingerprint = idempotency.fingerprint(
        request.method, request.url.path, await request.body()
    )
    try:
        async with uow.transaction() as session:
            stored = await idempotency.replay(session, principal.token_id, key, request_fingerprint)
            if stored is not None:
                return _json(stored.status_code, stored.body, replayed=True)
            response = idempotency.StoredResponse(
                status_code, (await use_case(session)).model_dump_json()
            )
            idempotency.remember(session, principal.token_id, key, request_fingerprint, response)
    except IntegrityError:
        # The same key in a concurrent request that committed first: answer as it did.
        async with uow.read_only() as session:
            stored = await idempotency.replay(session, principal.token_id, key, request_fingerprint)
        if stored is None:
            raise
        return _json(stored.status_code, stored.body, replayed=True)
    return _json(response.status_code, response.body)


def _json(status_code: int, body: str, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)
