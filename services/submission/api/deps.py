"""Dependencies of the routes: the unit of work, the caller, the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.submission.api.errors import HTTPProblem
from services.submission.domain.access import Principal
from services.submission.domain.errors import Problem
from services.submission.service import tokens
from services.submission.service.unit_of_work import UnitOfWork
from shared.clock import Clock
from shared.settings import SubmissionSettings


def get_uow(request: Request) -> UnitOfWork:
    """The app's unit of work (built in the lifespan)."""
    uow: UnitOfWork = request.app.state.uow
    return uow


def get_settings(request: Request) -> SubmissionSettings:
    """The app's settings."""
    settings: SubmissionSettings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    """The campaign clock: when initiatives are registered and reviewed (tokens, leases and
    the outbox keep real time)."""
    clock: Clock = request.app.state.clock
    return clock


async def get_principal(
    request: Request, uow: Annotated[UnitOfWork, Depends(get_uow)]
) -> Principal:
    """The caller named by the bearer token; 401 without a valid one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("a bearer token is required: Authorization: Bearer <token>")
    async with uow.read_only() as session:
        principal = await tokens.authenticate(session, token.strip())
    if principal is None:
        raise _unauthorized("the token is unknown, expired or revoked")
    return principal


def _unauthorized(message: str) -> HTTPProblem:
    return HTTPProblem(
        401,
        "unauthorized",
        Problem("authorization", "bearer_token", message),
        headers={"WWW-Authenticate": "Bearer"},
    )


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
SettingsDep = Annotated[SubmissionSettings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ClockDep = Annotated[Clock, Depends(get_clock)]
