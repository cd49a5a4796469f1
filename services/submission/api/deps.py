"""Dependencies of the routes: the unit of work, the caller, the settings, the registration
rate limit."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from services.submission.api.errors import HTTPProblem
from services.submission.domain.access import Principal
from services.submission.domain.errors import Problem
from services.submission.domain.rate_limit import TokenBuckets, retry_after_header
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


def registration_buckets(settings: SubmissionSettings) -> TokenBuckets:
    """The per-token allowance of registration requests, from the settings (one per app)."""
    return TokenBuckets(
        rate=settings.submission_registration_rate_per_second,
        burst=settings.submission_registration_burst,
    )


async def limit_registrations(request: Request, principal: PrincipalDep) -> None:
    """429 with Retry-After when the caller's token is over its registration rate.

    The buckets live in this process: with N instances behind a load balancer a token may make
    up to N times the rate. The limit guards the service against one runaway client, it is not
    a quota, so that slack is acceptable and costs no database write per request.
    """
    buckets: TokenBuckets = request.app.state.registration_buckets
    verdict = buckets.take(principal.token_id, time.monotonic())
    if verdict.allowed:
        return
    rate, burst = buckets.rate, buckets.burst
    retry_after = retry_after_header(verdict.retry_after_seconds)
    raise HTTPProblem(
        429,
        "rate_limited",
        Problem(
            "authorization",
            "registration_rate",
            f"this token is over its registration limit of {rate:g} requests a second "
            f"(bursts of {burst}); try again in {retry_after} s",
        ),
        headers={"Retry-After": retry_after},
    )


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
RegistrationLimit = Depends(limit_registrations)
