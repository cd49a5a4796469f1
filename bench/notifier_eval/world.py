"""The country the notifier evaluates: the registry it reads from the registry topic (units with
heads, the campaign, a target for every unit) and the counters scoring leaves in Redis."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from rich.console import Console
from scoring_replay.base import ICT, ROOT
from scoring_replay.hierarchy import Unit as PlannedUnit
from scoring_replay.hierarchy import build_hierarchy

from services.notifier.domain.registry import Registry
from services.notifier.domain.rules import CampaignPace
from shared.counters import CounterKeys, iso_week, parse_unit
from shared.events import (
    AlertChannel,
    AuthorCategory,
    CampaignDefined,
    CampaignDefinedData,
    TargetSet,
    TargetSetData,
    UnionHead,
    UnionLevel,
    UnionUpserted,
    UnionUpsertedData,
)
from shared.pace import PaceStatus

from .base import progress_bar

CAMPAIGN = "dot-thi-dua-sang-kien-2025"
STARTS_ON, ENDS_ON = date(2025, 3, 1), date(2025, 6, 30)
# E1's instant: 80 days into a 122-day campaign (66%), far past its 10% grace period.
EVALUATED_AT = datetime(2025, 5, 20, 9, 0, tzinfo=ICT)
PUBLISHED_AT = datetime(2025, 3, 1, 8, 0, tzinfo=ICT)
FIELDS = (
    "Giáo dục và đào tạo",
    "Y tế",
    "Sản xuất, kinh doanh",
    "Hành chính công",
    "Nông nghiệp",
    "Xây dựng",
    "Giao thông vận tải",
    "Công nghệ thông tin",
)
CATEGORIES = [c.value for c in AuthorCategory]
# The programme's reported author mix: public-service staff 55%, workers 24%, officials 16%.
CATEGORY_WEIGHTS = (55, 24, 16, 5)
WRITE_CHUNK = 2000  # units a pipeline when writing the counters


@dataclass(frozen=True)
class Shares:
    """What share of the grassroots units is made to lag, and how."""

    behind: float  # behind but not critical, at E1's instant
    critical: float
    old_backlog: float  # with initiatives under review longer than the backlog limit
    webhook: float  # heads with a webhook beside their email


@dataclass
class Country:
    """The registry, what was written to Redis, and how the units stand at E1's instant."""

    registry: Registry
    campaign: CampaignDefinedData
    unit_ids: list[str]  # the units with targets, in the evaluation's order
    levels: Counter[str]
    statuses: Counter[str] = field(default_factory=Counter)  # at E1's instant, every level
    old_backlog: int = 0  # units whose backlog is older than the limit, every level
    webhooks: int = 0
    fields_per_hash: float = 0.0
    redis_bytes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def campaign_data() -> CampaignDefinedData:
    """The campaign: 1 March–30 June 2025, counting valid initiatives, the default thresholds."""
    return CampaignDefinedData(
        name="Đợt thi đua sáng kiến năm 2025",
        starts_on=STARTS_ON,
        ends_on=ENDS_ON,
        eligible_from=date(2025, 1, 1),
        eligible_to=ENDS_ON,
    )


def unit_name(unit: PlannedUnit) -> str:
    """A Vietnamese name of the unit's level."""
    if unit.level is UnionLevel.NATIONAL:
        return "Tổng Liên đoàn Lao động Việt Nam"
    if unit.level is UnionLevel.PROVINCE:
        return f"Liên đoàn Lao động tỉnh số {unit.id[-2:]}"
    if unit.level is UnionLevel.UPPER_LEVEL:
        return f"Liên đoàn Lao động huyện {unit.id[-3:]}"
    return f"Công đoàn cơ sở Trường THCS số {unit.id[2:]}"


def registry_events(
    units: list[PlannedUnit], campaign: CampaignDefinedData, webhook_share: float, seed: int
) -> list[UnionUpserted | CampaignDefined | TargetSet]:
    """The registry topic's records: every unit with its head, the campaign, every target."""
    rng = random.Random(seed)
    events: list[UnionUpserted | CampaignDefined | TargetSet] = []
    for unit in units:
        webhook = rng.random() < webhook_share
        head = UnionHead(
            name=f"Chủ tịch {unit.id}",
            email=f"{unit.id}@congdoan.vn",
            webhook_url=f"https://hooks.congdoan.vn/{unit.id}" if webhook else None,
            alert_channels=[AlertChannel.EMAIL] + ([AlertChannel.WEBHOOK] if webhook else []),
        )
        events.append(
            UnionUpserted(
                occurred_at=PUBLISHED_AT,
                union_id=unit.id,
                union_path=list(unit.path),
                data=UnionUpsertedData(
                    name=unit_name(unit),
                    level=unit.level,
                    parent_id=unit.parent or None,
                    members=unit.members,
                    emulation_cluster=unit.cluster or None,
                    head=head,
                ),
            )
        )
    events.append(
        CampaignDefined(
            occurred_at=PUBLISHED_AT,
            campaign_id=CAMPAIGN,
            union_id=ROOT,
            union_path=[ROOT],
            data=campaign,
        )
    )
    for unit in units:
        events.append(
            TargetSet(
                occurred_at=PUBLISHED_AT,
                campaign_id=CAMPAIGN,
                union_id=unit.id,
                union_path=list(unit.path),
                data=TargetSetData(assigned_target=unit.target, changed_by="ban-to-chuc"),
            )
        )
    return events


def _valid_for(status: str, expected: float, rng: random.Random) -> int:
    """A valid count that puts a unit in ``status`` against ``expected`` (integers: a small
    target may have no count that is behind but not critical; then it keeps pace)."""
    critical_top = math.ceil(0.5 * expected) - 1  # the largest count under 50% of expected
    behind_top = math.ceil(0.8 * expected) - 1  # the largest under 80%
    if status == "critical" and critical_top >= 0:
        return rng.randint(0, critical_top)
    if status == "behind" and critical_top + 1 <= behind_top:
        return rng.randint(critical_top + 1, behind_top)
    return behind_top + 1 + rng.randint(0, max(1, int(expected * 0.3)))


def grassroots_hash(
    valid: int, old_backlog: bool, rng: random.Random, days: list[date], cutoff: date
) -> Counter[str]:
    """One grassroots unit's counters hash, as scoring's Lua step leaves it: every initiative
    counted by day, week, field and author category, the ones waiting by submission day."""
    values: Counter[str] = Counter()
    rejected = valid * 3 // 7  # about 70% pass review (67% in 2021)
    waiting = rng.randint(0, 2) + (1 if old_backlog else 0)
    recent = [d for d in days if d >= cutoff]
    for n in range(valid + rejected + waiting):
        if n < valid + rejected:
            day = rng.choice(days)
        elif old_backlog and n == valid + rejected:
            day = rng.choice(days[: len(days) - len(recent)])  # waiting longer than the limit
        else:
            day = rng.choice(recent)
        subject = rng.choice(FIELDS)
        category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        values[f"d:{day.isoformat()}"] += 1
        values[f"w:{iso_week(day)}"] += 1
        values[f"f:registered|{subject}"] += 1
        values[f"a:registered|{category}"] += 1
        if n < valid:
            values[f"f:valid|{subject}"] += 1
            values[f"a:valid|{category}"] += 1
        elif n >= valid + rejected:
            values[f"q:{day.isoformat()}"] += 1
    registered = valid + rejected + waiting
    values.update(
        registered=registered,
        under_review=waiting,
        valid=valid,
        rejected=rejected,
        withdrawn=rng.randint(0, 1),
        benefit_vnd=registered * 45_000_000,
        people=max(1, registered * 9 // 10),
    )
    return values


def build_counters(
    units: list[PlannedUnit], campaign: CampaignDefinedData, shares: Shares, seed: int
) -> dict[str, Counter[str]]:
    """Every unit's hash: grassroots units made to lag in the shares asked, the levels above
    summing their subtrees (as scoring rolls counts up)."""
    rng = random.Random(seed + 1)
    pace = CampaignPace.at(campaign_id=CAMPAIGN, campaign=campaign, at=EVALUATED_AT)
    today = EVALUATED_AT.date()
    cutoff = pace.backlog_cutoff  # the service's limit: 7 days
    days = [STARTS_ON + timedelta(days=n) for n in range((today - STARTS_ON).days + 1)]
    hashes: dict[str, Counter[str]] = {}
    for unit in units:
        if unit.level is not UnionLevel.GRASSROOTS:
            continue
        draw = rng.random()
        status = (
            "critical"
            if draw < shares.critical
            else "behind"
            if draw < shares.critical + shares.behind
            else "on_track"
        )
        valid = _valid_for(status, unit.target * pace.share, rng)
        hashes[unit.id] = grassroots_hash(
            valid, rng.random() < shares.old_backlog, rng, days, cutoff
        )
    children: dict[str, list[str]] = {}
    for unit in units:
        if unit.parent:
            children.setdefault(unit.parent, []).append(unit.id)
    for unit in reversed(units):  # grassroots last in the list: children before parents
        if unit.id in hashes:
            continue
        total: Counter[str] = Counter()
        for child in children.get(unit.id, ()):
            total.update(hashes[child])
        hashes[unit.id] = total
    for unit in units:  # the scores ranking last placed, as the refresher leaves them
        values = hashes[unit.id]
        values["rk:pct"] = round(100 * values["valid"] / unit.target, 2) if unit.target else 0
        values["rk:people"] = values["people"]
    return hashes


async def write_counters(console: Console, redis: Redis, hashes: dict[str, Counter[str]]) -> None:
    """HSET every unit's hash, pipelined."""
    keys = CounterKeys(CAMPAIGN)
    items = list(hashes.items())
    with progress_bar(console) as progress:
        task = progress.add_task("writing counters to Redis", total=len(items))
        for start in range(0, len(items), WRITE_CHUNK):
            pipe = redis.pipeline(transaction=False)
            for unit_id, values in items[start : start + WRITE_CHUNK]:
                pipe.hset(keys.unit(unit_id), mapping=dict(values))
            await pipe.execute()
            progress.update(task, completed=min(start + WRITE_CHUNK, len(items)))


async def build_country(
    console: Console, redis: Redis, units_wanted: int, shares: Shares, seed: int
) -> Country:
    """The registry in memory and the counters in Redis, with how the units stand."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    units = build_hierarchy(units_wanted)
    campaign = campaign_data()
    events = registry_events(units, campaign, shares.webhook, seed)
    registry = Registry()
    for event in events:
        registry.apply(event)
    seconds["registry (pydantic events applied)"] = time.perf_counter() - started
    del events
    started = time.perf_counter()
    hashes = build_counters(units, campaign, shares, seed)
    seconds["counters generated"] = time.perf_counter() - started
    started = time.perf_counter()
    await write_counters(console, redis, hashes)
    seconds["counters written (HSET, pipelined)"] = time.perf_counter() - started
    ordered = [unit.id for unit, _ in registry.units_with_targets(CAMPAIGN)]
    country = Country(
        registry=registry,
        campaign=campaign,
        unit_ids=ordered,
        levels=Counter(unit.level.value for unit in units),
        webhooks=sum(
            1
            for unit in registry.units.values()
            if unit.head and AlertChannel.WEBHOOK in unit.head.alert_channels
        ),
        fields_per_hash=sum(len(values) for values in hashes.values()) / len(hashes),
        redis_bytes=int((await redis.info("memory"))["used_memory"]),
        seconds=seconds,
    )
    _describe(country, units, hashes)
    return country


def _describe(country: Country, units: list[PlannedUnit], hashes: dict[str, Any]) -> None:
    """How every unit stands at E1's instant, by the notifier's own rules."""
    pace = CampaignPace.at(campaign_id=CAMPAIGN, campaign=country.campaign, at=EVALUATED_AT)
    for unit in units:
        counters = parse_unit({name: str(value) for name, value in hashes[unit.id].items()})
        summary = counters.summary(waiting_before=pace.backlog_cutoff)
        found = pace.standing(unit_id=unit.id, name="", target=unit.target, counters=summary)
        status = found.status if found.status is not PaceStatus.NOT_STARTED else "on_track"
        country.statuses[str(status)] += 1
        country.old_backlog += found.waiting_too_long > 0
