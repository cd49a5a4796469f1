"""/units: the union hierarchy."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.api.deps import PrincipalDep, SettingsDep, UowDep
from services.submission.api.idempotent import run_write
from services.submission.api.limits import CSV, JSON, XLSX, require_content_type
from services.submission.api.uploads import unit_rows_from_request
from services.submission.schemas import ImportReport, UnitCreate, UnitList, UnitPublic, UnitUpdate
from services.submission.service import units

router = APIRouter(prefix="/units", tags=["units"])
json_body = Depends(require_content_type(JSON))


@router.post("", status_code=201, response_model=UnitPublic, dependencies=[json_body])
async def create_unit(
    body: UnitCreate, request: Request, uow: UowDep, principal: PrincipalDep, settings: SettingsDep
) -> Response:
    """Add a unit under its parent (admin of the parent's subtree)."""

    async def use_case(session: AsyncSession) -> UnitPublic:
        return units.to_public(
            await units.create_unit(session, settings, principal, body), principal
        )

    return await run_write(request, uow, principal, use_case, status_code=201)


@router.patch("/{unit_id}", response_model=UnitPublic, dependencies=[json_body])
async def update_unit(
    unit_id: str,
    body: UnitUpdate,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Response:
    """Change a unit's name, sector, emulation cluster, members or head."""

    async def use_case(session: AsyncSession) -> UnitPublic:
        return units.to_public(
            await units.update_unit(session, settings, principal, unit_id, body), principal
        )

    return await run_write(request, uow, principal, use_case)


@router.post(
    "/import",
    response_model=ImportReport,
    dependencies=[Depends(require_content_type(JSON, CSV, XLSX))],
    summary='Import a hierarchy (JSON {"units": [...]}, CSV or Excel); all or nothing',
)
async def import_units(
    request: Request, uow: UowDep, principal: PrincipalDep, settings: SettingsDep
) -> Response:
    """Check the whole tree first, reporting every problem by row; write only if there is none."""
    rows = await unit_rows_from_request(request)

    async def use_case(session: AsyncSession) -> ImportReport:
        return await units.import_units(session, settings, principal, rows)

    return await run_write(request, uow, principal, use_case)


@router.get("/{unit_id}", response_model=UnitPublic)
async def read_unit(unit_id: str, uow: UowDep, principal: PrincipalDep) -> UnitPublic:
    """One unit."""
    async with uow.read_only() as session:
        return units.to_public(await units.load_unit(session, unit_id, field="unit_id"), principal)


@router.get("/{unit_id}/children", response_model=UnitList)
async def read_children(unit_id: str, uow: UowDep, principal: PrincipalDep) -> UnitList:
    """The units directly under a unit."""
    async with uow.read_only() as session:
        return UnitList(
            items=[
                units.to_public(row, principal) for row in await units.children(session, unit_id)
            ]
        )


@router.get("/{unit_id}/subtree", response_model=UnitList)
async def read_subtree(unit_id: str, uow: UowDep, principal: PrincipalDep) -> UnitList:
    """A unit and everything below it, parents first."""
    async with uow.read_only() as session:
        return UnitList(
            items=[units.to_public(row, principal) for row in await units.subtree(session, unit_id)]
        )
