"""/campaigns/{campaign}/leaderboards/…: units ranked within a parent, a cluster or a level."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from services.scoring import queries

router = APIRouter(prefix="/campaigns/{campaign_id}/leaderboards", tags=["leaderboards"])

Metric = Literal["pct", "per100", "people"]


@router.get("/{grouping}/{group}")
async def ranking(
    campaign_id: str,
    grouping: Literal["children", "cluster", "level"],
    group: str,
    request: Request,
    metric: Annotated[
        Metric, Query(description="pct of own target, per 100 members, or distinct people")
    ] = "pct",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    """``children/<parent id>``, ``cluster/<emulation cluster>`` or ``level/<level>``."""
    rows = await queries.leaderboard_rows(
        request.app.state.redis, campaign_id, metric, grouping, group, limit=limit
    )
    return {"metric": metric, "grouping": grouping, "group": group, "items": rows}
