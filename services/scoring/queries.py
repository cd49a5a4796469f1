"""Progress queries answered from Redis: counters, targets and the registry, through the
shared read API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from services.scoring.adapters.rankings import leaderboard
from services.scoring.domain.burnup import burnup
from services.scoring.domain.progress import progress, target_of
from shared.counters import CounterKeys, RegistryKeys, UnitCounters, parse_unit, read_unit
from shared.counters.read import COUNTER_FIELDS
from shared.events import CampaignDefinedData


class UnknownCampaign(LookupError):
    """No campaign of that id in the registry."""


class UnknownUnit(LookupError):
    """No unit of that id: the registry does not know it, and nothing was counted for it."""


def parse_definition(campaign_id: str, definition: str | None) -> CampaignDefinedData:
    """The campaign's definition from its registry hash field, as the registry topic carried
    it; UnknownCampaign when there is none."""
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
    """A unit's counters, targets, percentage, pace, backlog and ranks: two round trips."""
    (row,) = await units_progress(redis, campaign_id, [unit_id], at=at)
    return row


async def units_progress(
    redis: Redis, campaign_id: str, unit_ids: list[str], *, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The progress of each of ``unit_ids``, in that order: two round trips however many."""
    keys = CounterKeys(campaign_id)
    pipe = redis.pipeline(transaction=False)
    pipe.hget(RegistryKeys.campaign(campaign_id), "definition")
    for unit_id in unit_ids:
        pipe.hgetall(RegistryKeys.unit(unit_id))
        pipe.hgetall(keys.unit(unit_id))
        pipe.hgetall(RegistryKeys.target(campaign_id, unit_id))
    definition_json, *answers = await pipe.execute()
    definition = parse_definition(campaign_id, definition_json)
    records = [answers[3 * n : 3 * n + 3] for n in range(len(unit_ids))]
    for unit_id, (meta, values, targets) in zip(unit_ids, records, strict=True):
        if not (meta or values or targets):  # counted before its registry record is known
            raise UnknownUnit(unit_id)
    # Every unit's rank among its siblings and in its cluster, in one more round trip.
    groups = [
        [
            (name, keys.ranking("pct", grouping, group))
            for name, grouping, group in (
                ("among_siblings", "ch", meta.get("parent_id")),
                ("in_cluster", "cl", meta.get("emulation_cluster")),
            )
            if group
        ]
        for meta, _, _ in records
    ]
    pipe = redis.pipeline(transaction=False)
    for unit_id, unit_groups in zip(unit_ids, groups, strict=True):
        for _, ranking in unit_groups:
            pipe.zrevrank(ranking, unit_id)
            pipe.zcard(ranking)
    placed = iter(await pipe.execute() if any(groups) else [])
    at = at or datetime.now(UTC)
    rows = []
    for unit_id, (meta, values, targets), unit_groups in zip(
        unit_ids, records, groups, strict=True
    ):
        ranks = {}
        for name, _ in unit_groups:
            rank, size = next(placed), next(placed)
            ranks[name] = {"rank": None if rank is None else int(rank) + 1, "of": int(size)}
        counters = parse_unit(values)
        result = progress(
            counters,
            definition,
            assigned_target=_int(targets.get("assigned_target")),
            own_target=_int(targets.get("own_target")),
            at=at,
        )
        rows.append(
            {
                "campaign_id": campaign_id,
                "union_id": unit_id,
                "name": meta.get("name"),
                "level": meta.get("level"),
                "emulation_cluster": meta.get("emulation_cluster") or None,
                "members": _int(meta.get("members")),
                **result.__dict__,
                **totals(counters),
                "backlog": backlog(counters),
                "ranks": ranks,
            }
        )
    return rows


def totals(counters: UnitCounters) -> dict[str, int]:
    """The totals of a unit's counters (the breakdowns have routes of their own)."""
    return {name: getattr(counters, name) for name in COUNTER_FIELDS}


def backlog(counters: UnitCounters) -> dict[str, Any]:
    """How many wait for review, the oldest's submission day, and how many by that day."""
    return {
        "waiting": counters.under_review,
        "oldest_submitted_on": counters.oldest_waiting,
        "by_submission_day": counters.backlog_by_day,
    }


async def children_ranked(
    redis: Redis, campaign_id: str, unit_id: str, *, at: datetime | None = None
) -> list[dict[str, Any]]:
    """The unit's children with their progress, best percentage first (no target: last)."""
    children = sorted(await redis.smembers(RegistryKeys.children(unit_id)))
    rows = await units_progress(redis, campaign_id, children, at=at)
    rows.sort(
        key=lambda row: (row["percentage"] is None, -(row["percentage"] or 0), row["union_id"])
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


async def series(redis: Redis, campaign_id: str, unit_id: str, period: str) -> dict[str, int]:
    """Registrations by campaign-local day or by ISO week."""
    counters = await read_unit(redis, campaign_id, unit_id)
    return counters.by_day if period == "day" else counters.by_week


async def breakdown(
    redis: Redis, campaign_id: str, unit_id: str
) -> dict[str, dict[str, dict[str, int]]]:
    """Counts by field and by author category, registered and valid."""
    counters = await read_unit(redis, campaign_id, unit_id)
    empty: dict[str, dict[str, int]] = {"registered": {}, "valid": {}}
    return {
        "by_field": empty | counters.by_field,
        "by_author_category": empty | counters.by_category,
    }


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


async def leaderboard_rows(
    redis: Redis, campaign_id: str, metric: str, grouping: str, group: str, *, limit: int
) -> list[dict[str, Any]]:
    """A ranking's best units, with names."""
    placed = await leaderboard(redis, campaign_id, metric, grouping, group, limit=limit)
    pipe = redis.pipeline(transaction=False)
    for unit_id, _ in placed:
        pipe.hget(RegistryKeys.unit(unit_id), "name")
    names = await pipe.execute() if placed else []
    return [
        {"rank": rank, "union_id": unit_id, "name": name, "score": round(score, 2)}
        for rank, ((unit_id, score), name) in enumerate(zip(placed, names, strict=True), start=1)
    ]


async def unit_burnup(
    redis: Redis, campaign_id: str, unit_id: str, *, at: datetime
) -> dict[str, Any]:
    """A unit's burn-up as of ``at``: counted per day, expected by the pace model, projected
    to the end date (one round trip)."""
    pipe = redis.pipeline(transaction=False)
    pipe.hget(RegistryKeys.campaign(campaign_id), "definition")
    pipe.hget(RegistryKeys.unit(unit_id), "name")
    pipe.hgetall(CounterKeys(campaign_id).unit(unit_id))
    pipe.hgetall(RegistryKeys.target(campaign_id, unit_id))
    definition_json, name, values, targets = await pipe.execute()
    definition = parse_definition(campaign_id, definition_json)
    if not (name or values or targets):
        raise UnknownUnit(unit_id)
    counters = parse_unit(values)
    own, assigned = _int(targets.get("own_target")), _int(targets.get("assigned_target"))
    chart = burnup(
        counters.by_day,
        counters.counted(definition.counts.value),
        definition,
        target=target_of(assigned_target=assigned, own_target=own),
        at=at,
    )
    return {"campaign_id": campaign_id, "union_id": unit_id, "name": name, **asdict(chart)}


async def campaigns(redis: Redis) -> list[dict[str, Any]]:
    """Every campaign the registry holds, with its organising unit, the latest start first
    (so a page that shows one by default shows the current one)."""
    ids = sorted(await redis.smembers(RegistryKeys.campaigns()))
    pipe = redis.pipeline(transaction=False)
    for campaign_id in ids:
        pipe.hmget(RegistryKeys.campaign(campaign_id), ["definition", "organiser_id"])
    rows = []
    for campaign_id, (definition_json, organiser_id) in zip(ids, await pipe.execute(), strict=True):
        if definition_json is None:
            continue  # a campaign half written by a registry reader: listed once it is whole
        definition = parse_definition(campaign_id, definition_json)
        rows.append(
            {
                "id": campaign_id,
                "name": definition.name,
                "organiser_id": organiser_id,
                "starts_on": definition.starts_on,
                "ends_on": definition.ends_on,
                "timezone": definition.timezone,
                "counts": definition.counts.value,
            }
        )
    pipe = redis.pipeline(transaction=False)
    for row in rows:
        pipe.hget(RegistryKeys.unit(row["organiser_id"]), "name")
    for row, name in zip(rows, await pipe.execute(), strict=True):
        row["organiser_name"] = name
    # Two stable sorts: by id, then the latest start first.
    rows.sort(key=lambda row: row["id"])
    rows.sort(key=lambda row: row["starts_on"], reverse=True)
    return rows
