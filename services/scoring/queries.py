"""Progress queries answered from Redis: counters, targets and the registry, through the
shared read API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from services.scoring.adapters.rankings import leaderboard, rank_of
from services.scoring.domain.progress import progress
from shared.counters import CounterKeys, RegistryKeys, read_backlog, read_series, read_unit

__all__ = ["read_backlog"]  # re-exported for the backlog route
from shared.events import CampaignDefinedData


class UnknownCampaign(LookupError):
    """No campaign of that id in the registry."""


async def campaign(redis: Redis, campaign_id: str) -> CampaignDefinedData:
    """The campaign's definition as the registry topic carried it."""
    definition = await redis.hget(RegistryKeys.campaign(campaign_id), "definition")
    if definition is None:
        raise UnknownCampaign(campaign_id)
    return CampaignDefinedData.model_validate_json(definition)


async def organiser(redis: Redis, campaign_id: str) -> str:
    """The unit that runs the campaign (its totals are the campaign's)."""
    unit_id = await redis.hget(RegistryKeys.campaign(campaign_id), "organiser_id")
    if unit_id is None:
        raise UnknownCampaign(campaign_id)
    return str(unit_id)


async def unit_progress(
    redis: Redis, campaign_id: str, unit_id: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """A unit's counters, targets, percentage, pace and backlog."""
    definition = await campaign(redis, campaign_id)
    meta = await redis.hgetall(RegistryKeys.unit(unit_id))
    counters = await read_unit(redis, campaign_id, unit_id)
    targets = await redis.hgetall(RegistryKeys.target(campaign_id, unit_id))
    waiting, oldest = await read_backlog(redis, campaign_id, unit_id)
    ranks = {}
    for name, grouping, group in (
        ("among_siblings", "children", meta.get("parent_id")),
        ("in_cluster", "cluster", meta.get("emulation_cluster")),
    ):
        if group:
            rank, size = await rank_of(redis, campaign_id, unit_id, "pct", grouping, group)
            ranks[name] = {"rank": rank, "of": size}
    result = progress(
        counters,
        definition,
        assigned_target=_int(targets.get("assigned_target")),
        own_target=_int(targets.get("own_target")),
        at=at or datetime.now(UTC),
    )
    return {
        "campaign_id": campaign_id,
        "union_id": unit_id,
        "name": meta.get("name"),
        "level": meta.get("level"),
        "emulation_cluster": meta.get("emulation_cluster") or None,
        "members": _int(meta.get("members")),
        **result.__dict__,
        **counters.__dict__,
        "backlog": {"waiting": waiting, "oldest_submitted_at": oldest},
        "ranks": ranks,
    }


async def children_ranked(
    redis: Redis, campaign_id: str, unit_id: str, *, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The unit's children with their progress, best percentage first (no target: last)."""
    children = sorted(await redis.smembers(RegistryKeys.children(unit_id)))
    rows = [await unit_progress(redis, campaign_id, child, at=at) for child in children]
    rows.sort(
        key=lambda row: (row["percentage"] is None, -(row["percentage"] or 0), row["union_id"])
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


async def series(redis: Redis, campaign_id: str, unit_id: str, period: str) -> dict[str, int]:
    """Registrations by campaign-local day or by ISO week."""
    keys = CounterKeys(campaign_id)
    return await read_series(
        redis, keys.by_day(unit_id) if period == "day" else keys.by_week(unit_id)
    )


async def breakdown(
    redis: Redis, campaign_id: str, unit_id: str
) -> dict[str, dict[str, dict[str, int]]]:
    """Counts by field and by author category, registered and valid."""
    keys = CounterKeys(campaign_id)
    result: dict[str, dict[str, dict[str, int]]] = {}
    for name, key in (
        ("by_field", keys.by_field(unit_id)),
        ("by_author_category", keys.by_category(unit_id)),
    ):
        table: dict[str, dict[str, int]] = {"registered": {}, "valid": {}}
        for composite, count in (await read_series(redis, key)).items():
            status, _, label = composite.partition("|")
            table[status][label] = count
        result[name] = table
    return result


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


async def leaderboard_rows(
    redis: Redis, campaign_id: str, metric: str, grouping: str, group: str, *, limit: int
) -> list[dict[str, Any]]:
    """A ranking's best units, with names."""
    rows = []
    for rank, (unit_id, score) in enumerate(
        await leaderboard(redis, campaign_id, metric, grouping, group, limit=limit), start=1
    ):
        name = await redis.hget(RegistryKeys.unit(unit_id), "name")
        rows.append({"rank": rank, "union_id": unit_id, "name": name, "score": round(score, 2)})
    return rows
