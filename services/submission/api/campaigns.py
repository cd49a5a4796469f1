"""/campaigns and their targets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.api.deps import PrincipalDep, SettingsDep, UowDep
from services.submission.api.idempotent import run_write
from services.submission.api.limits import JSON, require_content_type
from services.submission.schemas import CampaignCreate, CampaignPublic, TargetChange, TargetPublic
from services.submission.service import campaigns

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
json_body = Depends(require_content_type(JSON))


@router.post("", status_code=201, response_model=CampaignPublic, dependencies=[json_body])
async def create_campaign(
    body: CampaignCreate,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Response:
    """Define a campaign (admin of the organising unit)."""

    async def use_case(session: AsyncSession) -> CampaignPublic:
        return campaigns.campaign_public(
            await campaigns.define_campaign(session, settings, principal, body, replace=False)
        )

    return await run_write(request, uow, principal, use_case, status_code=201)


@router.put("/{campaign_id}", response_model=CampaignPublic, dependencies=[json_body])
async def redefine_campaign(
    campaign_id: str,
    body: CampaignCreate,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Response:
    """Replace a campaign's definition (dates, window, what counts, pace)."""
    body = body.model_copy(update={"id": campaign_id})

    async def use_case(session: AsyncSession) -> CampaignPublic:
        return campaigns.campaign_public(
            await campaigns.define_campaign(session, settings, principal, body, replace=True)
        )

    return await run_write(request, uow, principal, use_case)


@router.get("", response_model=list[CampaignPublic])
async def list_campaigns(uow: UowDep, principal: PrincipalDep) -> list[CampaignPublic]:
    """Every campaign."""
    async with uow.read_only() as session:
        return [campaigns.campaign_public(row) for row in await campaigns.list_campaigns(session)]


@router.get("/{campaign_id}", response_model=CampaignPublic)
async def read_campaign(campaign_id: str, uow: UowDep, principal: PrincipalDep) -> CampaignPublic:
    """One campaign."""
    async with uow.read_only() as session:
        return campaigns.campaign_public(await campaigns.load_campaign(session, campaign_id))


@router.put(
    "/{campaign_id}/targets/{union_id}", response_model=TargetPublic, dependencies=[json_body]
)
async def set_target(
    campaign_id: str,
    union_id: str,
    body: TargetChange,
    request: Request,
    uow: UowDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Response:
    """Set a unit's assigned and/or own target; the change is kept with who, when and why."""

    async def use_case(session: AsyncSession) -> TargetPublic:
        return await campaigns.set_target(session, settings, principal, campaign_id, union_id, body)

    return await run_write(request, uow, principal, use_case)


@router.get("/{campaign_id}/targets/{union_id}", response_model=TargetPublic)
async def read_target(
    campaign_id: str, union_id: str, uow: UowDep, principal: PrincipalDep
) -> TargetPublic:
    """A unit's targets, its children's totals beside them, and every adjustment."""
    async with uow.read_only() as session:
        return await campaigns.get_target(session, campaign_id, union_id)
