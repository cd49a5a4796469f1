"""/initiatives: register (one, a batch, a spreadsheet), read, list, review, withdraw."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.api.deps import (
    ClockDep,
    PrincipalDep,
    RegistrationLimit,
    SettingsDep,
    UowDep,
)
from services.submission.api.idempotent import run_write
from services.submission.api.limits import CSV, JSON, XLSX, require_content_type
from services.submission.api.uploads import batch_rows_from_request, initiative_rows_from_request
from services.submission.domain.access import Action, authorize
from services.submission.domain.initiatives import Status
from services.submission.schemas import (
    BatchReport,
    InitiativeBatch,
    InitiativeCreate,
    InitiativePage,
    InitiativePublic,
    Review,
    Withdrawal,
)
from services.submission.service import initiatives
from services.submission.service.initiative_queries import (
    InitiativeFilter,
    get_initiative,
    list_initiatives,
)

router = APIRouter(prefix="/initiatives", tags=["initiatives"])
json_body = Depends(require_content_type(JSON))


@router.post(
    "",
    status_code=201,
    response_model=InitiativePublic,
    dependencies=[RegistrationLimit, json_body],
)
async def register(
    body: InitiativeCreate,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    """Register one initiative at a grassroots union; a likely duplicate is registered, flagged."""

    async def use_case(session: AsyncSession) -> InitiativePublic:
        row, _ = await initiatives.Registrar(session, settings, principal, clock).register(body)
        await session.flush()
        return await get_initiative(session, principal, UUID(row.id))

    return await run_write(request, uow, principal, use_case, status_code=201)


@router.post(
    "/batch",
    response_model=BatchReport,
    dependencies=[RegistrationLimit, json_body],
    openapi_extra={
        "requestBody": {"content": {JSON: {"schema": InitiativeBatch.model_json_schema()}}}
    },
)
async def register_batch(
    request: Request, uow: UowDep, principal: PrincipalDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """Register up to 1,000 initiatives; each row gets its own result (created, already
    registered, or its problems)."""
    rows = await batch_rows_from_request(request)
    authorize(principal, Action.REGISTER)

    async def use_case(session: AsyncSession) -> BatchReport:
        registrar = initiatives.Registrar(session, settings, principal, clock)
        return await initiatives.register_rows(registrar, list(enumerate(rows, start=1)))

    return await run_write(request, uow, principal, use_case)


@router.post(
    "/import",
    response_model=BatchReport,
    dependencies=[RegistrationLimit, Depends(require_content_type(CSV, XLSX))],
    summary="Import a support team's CSV or Excel sheet, with a per-row report",
)
async def import_sheet(
    request: Request, uow: UowDep, principal: PrincipalDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """Rows are numbered as in the spreadsheet (the header is row 1)."""
    authorize(principal, Action.IMPORT)
    numbered = await initiative_rows_from_request(request)

    async def use_case(session: AsyncSession) -> BatchReport:
        registrar = initiatives.Registrar(session, settings, principal, clock)
        return await initiatives.register_rows(registrar, numbered)

    return await run_write(request, uow, principal, use_case)


@router.get("", response_model=InitiativePage)
async def list_(
    uow: UowDep,
    principal: PrincipalDep,
    union_id: Annotated[str | None, Query(description="A unit: lists its whole subtree")] = None,
    campaign_id: str | None = None,
    status: Status | None = None,
    field: str | None = None,
    flagged_only: Annotated[bool, Query(description="Only likely duplicates")] = False,
    submitted_from: datetime | None = None,
    submitted_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> InitiativePage:
    """Newest first, inside the caller's scope."""
    wanted = InitiativeFilter(
        union_id, campaign_id, status, field, flagged_only, submitted_from, submitted_to
    )
    async with uow.read_only() as session:
        return await list_initiatives(session, principal, wanted, limit=limit, cursor=cursor)


@router.get("/{initiative_id}", response_model=InitiativePublic)
async def read(initiative_id: UUID, uow: UowDep, principal: PrincipalDep) -> InitiativePublic:
    """One initiative with its status history."""
    async with uow.read_only() as session:
        return await get_initiative(session, principal, initiative_id)


@router.post("/{initiative_id}/review", response_model=InitiativePublic, dependencies=[json_body])
async def review(
    initiative_id: UUID,
    body: Review,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    """Mark an initiative under review valid or rejected."""

    async def use_case(session: AsyncSession) -> InitiativePublic:
        at = clock.now()
        await initiatives.review(session, settings, principal, initiative_id, body, at=at)
        return await get_initiative(session, principal, initiative_id)

    return await run_write(request, uow, principal, use_case)


@router.post("/{initiative_id}/withdraw", response_model=InitiativePublic, dependencies=[json_body])
async def withdraw(
    initiative_id: UUID,
    body: Withdrawal,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    """Withdraw an initiative before it is reviewed."""

    async def use_case(session: AsyncSession) -> InitiativePublic:
        at = clock.now()
        await initiatives.withdraw(session, settings, principal, initiative_id, body, at=at)
        return await get_initiative(session, principal, initiative_id)

    return await run_write(request, uow, principal, use_case)
