"""The scoring counters against a real Redis: whatever the deliveries (duplicate publications,
reviews before their submissions, redeliveries after crashes, partitions interleaved), the
counters end equal to the plain reference computation from the initiatives' final states."""

from __future__ import annotations

import asyncio
import random
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from event_samples import (
    GRASSROOTS_PATH,
    ICT,
    PROVINCE,
    ROOT,
    SUBMITTED_AT,
    dak_lak_campaign,
    target_event,
    union_event,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from services.scoring.adapters.counters import ApplyResult, CounterStore, InitiativeEvent
from services.scoring.adapters.rankings import RankingRefresher, Rankings
from services.scoring.adapters.registry import apply_registry_event
from services.scoring.domain.reference import Expected, Initiative, expected_counters
from services.submission.schemas import MAX_BENEFIT_VND
from shared.counters import (
    CounterKeys,
    RegistryKeys,
    UnitCounters,
    decode_facts,
    iso_week,
    read_unit,
)
from shared.events import (
    AuthorCategory,
    AuthorRef,
    CountedStatus,
    InitiativeReviewed,
    InitiativeReviewedData,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    InitiativeWithdrawn,
    InitiativeWithdrawnData,
    RecognisedBy,
    ReviewDecision,
    UnionLevel,
    encode,
)
from shared.redis import create_redis

pytestmark = pytest.mark.integration

T = TypeVar("T")

TOPIC = "initiative-events"
PARTITIONS = 3
FATES = ("submitted", "valid", "rejected", "withdrawn")
FIELDS = (
    "Giáo dục và đào tạo",
    "Y tế",
    "Nông nghiệp và phát triển nông thôn",
    "Công nghiệp chế biến",
    "Chuyển đổi số",
)
# A small pool, so the same people author several initiatives: distinct people is exercised.
PEOPLE = tuple(f"p-{n:04x}" for n in range(6))
# 23:00 in Vietnam: submissions straddle local midnights, so days are campaign-local, not UTC.
START = datetime(2025, 5, 11, 16, 0, tzinfo=UTC)
# Any benefit the submission API accepts (up to 10^15 VND, 16 digits).
BENEFITS = st.integers(0, MAX_BENEFIT_VND)
# At most 8 records a batch: 8 benefits at the cap stay below 2^53, where Lua's numbers stop
# being exact integers (test_a_batch_worth_more_than_2_to_the_53_vnd_is_counted_exactly).
MAX_BATCH = 8
MAX_CRASHES = 12


# --- events -----------------------------------------------------------------------------------


def initiative_id(number: int) -> UUID:
    """The id of a test's initiative ``number`` (keys are per campaign, so small ids do)."""
    return UUID(int=number + 1)


def submitted(
    campaign: str,
    number: int,
    *,
    path: Sequence[str] = GRASSROOTS_PATH,
    at: datetime = SUBMITTED_AT,
    field: str = FIELDS[0],
    authors: Sequence[tuple[str, AuthorCategory]] = (
        ("p-7f3a9c", AuthorCategory.PUBLIC_SERVICE_STAFF),
    ),
    benefit_vnd: int = 120_000_000,
) -> InitiativeSubmitted:
    """A grassroots union's initiative ``number``, submitted at ``at``."""
    return InitiativeSubmitted(
        occurred_at=at,
        campaign_id=campaign,
        union_id=path[-1],
        union_path=list(path),
        data=InitiativeSubmittedData(
            initiative_id=initiative_id(number),
            title=f"Sáng kiến cải tiến quy trình số {number + 1}",
            field=field,
            authors=[AuthorRef(person_key=key, category=category) for key, category in authors],
            estimated_benefit_vnd=benefit_vnd,
            application_date=date(2025, 3, 1),
            recognised_by=RecognisedBy.INITIATIVE_COUNCIL,
            recognised_on=date(2025, 4, 20),
            entered_by="ho-tro-03",
        ),
    )


def reviewed(
    campaign: str,
    number: int,
    decision: ReviewDecision,
    *,
    path: Sequence[str] = GRASSROOTS_PATH,
    submitted_at: datetime = SUBMITTED_AT,
    at: datetime | None = None,
) -> InitiativeReviewed:
    """The review of initiative ``number``."""
    return InitiativeReviewed(
        occurred_at=at or submitted_at + timedelta(days=2),
        campaign_id=campaign,
        union_id=path[-1],
        union_path=list(path),
        data=InitiativeReviewedData(
            initiative_id=initiative_id(number),
            decision=decision,
            reviewer_id="can-bo-dak-lak-12",
            note="Đã thẩm định",
            submitted_at=submitted_at,
        ),
    )


def withdrawn(
    campaign: str,
    number: int,
    *,
    path: Sequence[str] = GRASSROOTS_PATH,
    submitted_at: datetime = SUBMITTED_AT,
    at: datetime | None = None,
) -> InitiativeWithdrawn:
    """The withdrawal of initiative ``number`` before review."""
    return InitiativeWithdrawn(
        occurred_at=at or submitted_at + timedelta(days=1),
        campaign_id=campaign,
        union_id=path[-1],
        union_path=list(path),
        data=InitiativeWithdrawnData(
            initiative_id=initiative_id(number),
            withdrawn_by="ho-tro-03",
            reason="Tác giả xin rút để hoàn thiện thêm số liệu",
            submitted_at=submitted_at,
        ),
    )


def partition_of(unit: str) -> int:
    """The partition of a unit's events: keyed by grassroots unit, like the Kafka producer
    (crc32 rather than hash(), which changes per process and would defeat replaying)."""
    return zlib.crc32(unit.encode()) % PARTITIONS


# --- the random world -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hierarchy:
    """Every unit (root first) and the path of every grassroots unit."""

    units: tuple[str, ...]
    grassroots: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Spec:
    """One initiative: where, its final fate, what it counts, and how the relay mistreats it."""

    path: tuple[str, ...]
    fate: str  # submitted, valid, rejected, withdrawn
    field: str
    authors: tuple[tuple[str, AuthorCategory], ...]
    benefit_vnd: int
    submitted_minute: int  # minutes after START
    decided_after: int  # minutes after the submission
    decision_first: bool  # the review/withdrawal reaches the log before the submission
    republish: frozenset[str]  # "s" and/or "d": published a second time, same event_id

    @property
    def submitted_at(self) -> datetime:
        return START + timedelta(minutes=self.submitted_minute)

    def reference(self, number: int) -> Initiative:
        """The initiative as the database ends up holding it."""
        return Initiative(
            id=str(initiative_id(number)),
            path=self.path,
            status=self.fate,
            field=self.field,
            categories=tuple(category.value for _, category in self.authors),
            person_keys=tuple(key for key, _ in self.authors),
            benefit_vnd=self.benefit_vnd,
            day=self.submitted_at.astimezone(ICT).date().isoformat(),
        )

    def events(self, campaign: str, number: int) -> list[InitiativeEvent]:
        """Its submission, then its review or withdrawal (none while still submitted)."""
        at = self.submitted_at
        submission = submitted(
            campaign,
            number,
            path=self.path,
            at=at,
            field=self.field,
            authors=self.authors,
            benefit_vnd=self.benefit_vnd,
        )
        decided_at = at + timedelta(minutes=self.decided_after)
        if self.fate == "withdrawn":
            return [submission, withdrawn(campaign, number, path=self.path, submitted_at=at)]
        if self.fate in ("valid", "rejected"):
            decision = ReviewDecision(self.fate)
            review = reviewed(
                campaign, number, decision, path=self.path, submitted_at=at, at=decided_at
            )
            return [submission, review]
        return [submission]


@dataclass(frozen=True)
class Plan:
    hierarchy: Hierarchy
    specs: tuple[Spec, ...]


@st.composite
def hierarchies(draw: st.DrawFn) -> Hierarchy:
    """A national root, 1-3 provinces, 0-3 upper-level unions each with 1-4 grassroots unions,
    and grassroots unions directly under a province (at least one when it has no upper level)."""
    units, grassroots = [ROOT], list[tuple[str, ...]]()
    for p in range(1, draw(st.integers(1, 3)) + 1):
        province = f"tinh-{p}"
        units.append(province)
        uppers = draw(st.integers(0, 3))
        for u in range(1, uppers + 1):
            upper = f"{province}-cdn-{u}"
            units.append(upper)
            for g in range(1, draw(st.integers(1, 4)) + 1):
                unit = f"{upper}-cdcs-{g}"
                units.append(unit)
                grassroots.append((ROOT, province, upper, unit))
        for g in range(1, draw(st.integers(0 if uppers else 1, 2)) + 1):
            unit = f"{province}-cdcs-{g}"
            units.append(unit)
            grassroots.append((ROOT, province, unit))
    return Hierarchy(tuple(units), tuple(grassroots))


@st.composite
def specs(
    draw: st.DrawFn, hierarchy: Hierarchy, benefits: st.SearchStrategy[int] = BENEFITS
) -> Spec:
    """One initiative at a random grassroots unit, with a random final fate."""
    fate = draw(st.sampled_from(FATES))
    kinds = ("s",) if fate == "submitted" else ("s", "d")
    return Spec(
        path=draw(st.sampled_from(hierarchy.grassroots)),
        fate=fate,
        field=draw(st.sampled_from(FIELDS)),
        authors=tuple(
            draw(
                st.lists(
                    st.tuples(st.sampled_from(PEOPLE), st.sampled_from(AuthorCategory)),
                    min_size=1,
                    max_size=3,
                    unique_by=lambda author: author[0],
                )
            )
        ),
        benefit_vnd=draw(benefits),
        submitted_minute=draw(st.integers(0, 4 * 24 * 60 - 1)),
        decided_after=draw(st.integers(1, 3 * 24 * 60)),
        decision_first=fate != "submitted" and draw(st.sampled_from((False, False, True))),
        republish=draw(st.frozensets(st.sampled_from(kinds))),
    )


@st.composite
def plans(draw: st.DrawFn, benefits: st.SearchStrategy[int] = BENEFITS) -> Plan:
    """A random hierarchy and 1-40 initiatives in it."""
    hierarchy = draw(hierarchies())
    count = draw(st.integers(1, 40))  # drawn first: lists alone stay mostly short
    initiatives = draw(st.lists(specs(hierarchy, benefits), min_size=count, max_size=count))
    return Plan(hierarchy, tuple(initiatives))


# --- the partition logs and their delivery ----------------------------------------------------


def _position(log: list[InitiativeEvent], event: InitiativeEvent) -> int:
    return next(n for n, candidate in enumerate(log) if candidate is event)


def partition_logs(
    campaign: str, plan: Plan, data: st.DataObject
) -> tuple[list[list[InitiativeEvent]], int]:
    """Each partition's log in publication order, with the relay's faults injected: a decision
    moved before its submission (a failed round retried out of order), and second publications
    (same event_id) appended later at new offsets. Returns the logs and the distinct events."""
    timeline: list[tuple[datetime, int, InitiativeEvent]] = []
    per_initiative = [spec.events(campaign, number) for number, spec in enumerate(plan.specs)]
    for number, events in enumerate(per_initiative):
        timeline.extend((event.occurred_at, number, event) for event in events)
    timeline.sort(key=lambda item: (item[0], item[1]))  # a decision comes after its submission
    logs: list[list[InitiativeEvent]] = [[] for _ in range(PARTITIONS)]
    for _, _, event in timeline:
        logs[partition_of(event.union_id)].append(event)

    for number, (spec, events) in enumerate(zip(plan.specs, per_initiative, strict=True)):
        log = logs[partition_of(spec.path[-1])]
        submission, *decision = events
        if spec.decision_first:
            log.pop(_position(log, decision[0]))
            before = data.draw(st.integers(0, _position(log, submission)), label=f"early {number}")
            log.insert(before, decision[0])
        for kind in sorted(spec.republish):
            original = submission if kind == "s" else decision[0]
            after = data.draw(
                st.integers(_position(log, original) + 1, len(log)), label=f"again {number}{kind}"
            )
            log.insert(after, original)
    return logs, sum(len(events) for events in per_initiative)


async def deliver(
    redis: Redis, logs: list[list[InitiativeEvent]], data: st.DataObject
) -> ApplyResult:
    """Deliver the partitions interleaved, in random batches; after a batch a consumer may crash
    before committing and its successor re-reads from an earlier offset."""
    store = CounterStore(redis)
    position = [0] * PARTITIONS
    applied_up_to = [-1] * PARTITIONS  # the fence the counters must hold
    crashes = 0
    total = ApplyResult()
    while active := [p for p in range(PARTITIONS) if position[p] < len(logs[p])]:
        p = data.draw(st.sampled_from(active), label="partition")
        size = data.draw(st.integers(1, MAX_BATCH), label="batch")
        offsets = range(position[p], min(position[p] + size, len(logs[p])))
        result = await store.apply(TOPIC, p, [(offset, logs[p][offset]) for offset in offsets])
        seen = sum(1 for offset in offsets if offset <= applied_up_to[p])
        assert result.fenced == seen, f"partition {p} offsets {offsets}: {result}"
        assert result.applied + result.duplicates == len(offsets) - seen, result
        applied_up_to[p] = max(applied_up_to[p], offsets[-1])
        position[p] = offsets[-1] + 1
        total = total + result
        if crashes < MAX_CRASHES and data.draw(st.integers(0, 3), label="crash?") == 0:
            crashes += 1
            position[p] = data.draw(st.integers(0, position[p] - 1), label="redeliver from")
            store = CounterStore(redis)  # the successor: a new consumer, same Redis
    return total


# --- comparing with the reference -------------------------------------------------------------


async def observed(redis: Redis, campaign: str, unit: str) -> dict[str, Any]:
    """What the counters say of a unit, through the read API."""
    counters = await read_unit(redis, campaign, unit)
    return {
        "registered": counters.registered,
        "under_review": counters.under_review,
        "valid": counters.valid,
        "rejected": counters.rejected,
        "withdrawn": counters.withdrawn,
        "benefit_vnd": counters.benefit_vnd,
        "people": counters.people,
        "by_field": {
            f"{status}|{label}": n
            for status, table in sorted(counters.by_field.items())
            for label, n in sorted(table.items())
        },
        "by_day": counters.by_day,
        "by_week": counters.by_week,
        "backlog_by_day": counters.backlog_by_day,
        "oldest": counters.oldest_waiting,
    }


def wanted(expected: Expected) -> dict[str, Any]:
    """The same view of the reference's totals (zero counts dropped, like the read API)."""
    weeks: Counter[str] = Counter()
    for day, count in expected.by_day.items():
        weeks[iso_week(date.fromisoformat(day))] += count
    backlog = {day: n for day, n in sorted(expected.backlog_by_day.items()) if n}
    return {
        "registered": expected.registered,
        "under_review": expected.under_review,
        "valid": expected.valid,
        "rejected": expected.rejected,
        "withdrawn": expected.withdrawn,
        "benefit_vnd": expected.benefit_vnd,
        "people": len(expected.people),
        "by_field": {name: n for name, n in sorted(expected.by_field.items()) if n},
        "by_day": {name: n for name, n in sorted(expected.by_day.items()) if n},
        "by_week": {name: n for name, n in sorted(weeks.items()) if n},
        "backlog_by_day": backlog,
        "oldest": date.fromisoformat(min(backlog)) if backlog else None,
    }


async def drop_campaign(redis: Redis, campaign: str) -> None:
    """Delete every key of a campaign, so the session's Redis stays small."""
    keys = [key async for key in redis.scan_iter(match=CounterKeys(campaign).pattern, count=500)]
    for start in range(0, len(keys), 500):
        await redis.delete(*keys[start : start + 500])


async def check(redis_url: str, plan: Plan, data: st.DataObject) -> None:
    campaign = f"prop-{uuid4().hex[:8]}"
    logs, distinct = partition_logs(campaign, plan, data)
    redis = create_redis(redis_url)
    try:
        total = await deliver(redis, logs, data)
        # Exactly once in effect: every event applied once, every second publication skipped.
        assert total.applied == distinct, total
        assert total.duplicates == sum(len(log) for log in logs) - distinct, total

        expected = expected_counters(spec.reference(n) for n, spec in enumerate(plan.specs))
        for unit in plan.hierarchy.units:
            assert await observed(redis, campaign, unit) == wanted(
                expected.get(unit, Expected())
            ), f"unit {unit}"
    finally:
        await drop_campaign(redis, campaign)
        await redis.aclose()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on a loop of its own, leaving the session's event loop (pytest-asyncio's) set."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coroutine)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=plans(), data=st.data())
def test_counters_equal_the_reference_after_duplicates_reorderings_and_crashes(
    redis_url: str, plan: Plan, data: st.DataObject
) -> None:
    run(check(redis_url, plan, data))


# --- explicit cases ---------------------------------------------------------------------------


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def campaign(redis: Redis, unique: str) -> AsyncIterator[str]:
    campaign_id = f"test-{unique}"
    yield campaign_id
    await drop_campaign(redis, campaign_id)


async def test_a_second_publication_of_an_event_counts_once(redis: Redis, campaign: str) -> None:
    store = CounterStore(redis)
    submission = submitted(campaign, 0)

    first = await store.apply(TOPIC, 0, [(0, submission), (1, submission)])
    again = await store.apply(TOPIC, 0, [(2, submission)])

    assert (first, again) == (ApplyResult(applied=1, duplicates=1), ApplyResult(duplicates=1))
    for unit in GRASSROOTS_PATH:
        counters = await read_unit(redis, campaign, unit)
        assert (counters.registered, counters.under_review, counters.people) == (1, 1, 1)
        assert counters.benefit_vnd == 120_000_000
        assert counters.backlog_by_day == {SUBMITTED_AT.astimezone(ICT).date().isoformat(): 1}
        assert counters.oldest_waiting == SUBMITTED_AT.astimezone(ICT).date()


async def test_a_review_before_its_submission_ends_valid(redis: Redis, campaign: str) -> None:
    store = CounterStore(redis)

    parked = await store.apply(TOPIC, 1, [(0, reviewed(campaign, 0, ReviewDecision.VALID))])
    assert parked == ApplyResult(applied=1)
    assert await read_unit(redis, campaign, PROVINCE) == UnitCounters()  # parked, not counted
    await store.apply(TOPIC, 1, [(1, submitted(campaign, 0, field="Y tế"))])

    for unit in GRASSROOTS_PATH:
        counters = await read_unit(redis, campaign, unit)
        assert (counters.registered, counters.under_review, counters.valid) == (1, 0, 1)
        assert (counters.backlog_by_day, counters.oldest_waiting) == ({}, None)
        assert counters.by_field == {"registered": {"Y tế": 1}, "valid": {"Y tế": 1}}


async def test_a_redelivered_batch_changes_nothing(redis: Redis, campaign: str) -> None:
    store = CounterStore(redis)
    batch: list[tuple[int, InitiativeEvent]] = [
        (0, submitted(campaign, 0)),
        (1, submitted(campaign, 1, authors=[("p-1b2e4d", AuthorCategory.UNION_OFFICIAL)])),
        (2, reviewed(campaign, 0, ReviewDecision.REJECTED)),
        (3, withdrawn(campaign, 1)),
        (4, submitted(campaign, 2, benefit_vnd=7_500_000)),
    ]
    await store.apply(TOPIC, 2, batch)
    before = [await observed(redis, campaign, unit) for unit in GRASSROOTS_PATH]

    result = await CounterStore(redis).apply(TOPIC, 2, batch)  # after a crash or a rebalance

    assert result == ApplyResult(fenced=len(batch))
    assert [await observed(redis, campaign, unit) for unit in GRASSROOTS_PATH] == before
    assert before[0]["registered"] == 2 and before[0]["rejected"] == 1
    assert before[0]["withdrawn"] == 1 and before[0]["under_review"] == 1


async def test_dak_lak_registered_696_of_2500_is_27_84_percent(redis: Redis, campaign: str) -> None:
    """The source case: Đắk Lắk registered 696 initiatives; its campaign counts registered
    initiatives, so against its target of 2500 it stands at 27.84%."""
    uppers = ("dak-lak-giao-duc", "dak-lak-y-te")
    paths = [(ROOT, PROVINCE, upper, f"{upper}-cdcs-{n}") for upper in uppers for n in range(1, 4)]
    logs: list[list[InitiativeEvent]] = [[] for _ in range(PARTITIONS)]
    for number in range(696):
        path = paths[number % len(paths)]
        at = SUBMITTED_AT + timedelta(minutes=7 * number)
        logs[partition_of(path[-1])].append(submitted(campaign, number, path=path, at=at))
    store = CounterStore(redis)
    total = ApplyResult()
    for p, log in enumerate(logs):
        for start in range(0, len(log), 100):
            records = list(enumerate(log))[start : start + 100]
            total = total + await store.apply(TOPIC, p, records)

    province = await read_unit(redis, campaign, PROVINCE)
    assert total == ApplyResult(applied=696)
    assert (province.registered, province.under_review, province.valid) == (696, 696, 0)
    assert province.counted("registered") == 696
    assert round(100 * province.counted("registered") / 2500, 2) == 27.84
    assert sum(province.backlog_by_day.values()) == 696
    by_upper = [(await read_unit(redis, campaign, upper)).registered for upper in uppers]
    assert by_upper == [348, 348]
    assert (await read_unit(redis, campaign, ROOT)).registered == 696


async def test_benefits_of_15_and_16_digits_are_counted_exactly(
    redis: Redis, campaign: str
) -> None:
    benefits = (123_456_789_012_345, MAX_BENEFIT_VND - 1, MAX_BENEFIT_VND)
    store = CounterStore(redis)
    for number, benefit in enumerate(benefits):  # a batch each: a unit's sum stays below 2^53
        await store.apply(TOPIC, 0, [(number, submitted(campaign, number, benefit_vnd=benefit))])

    assert (await read_unit(redis, campaign, PROVINCE)).benefit_vnd == sum(benefits)


async def test_a_batch_worth_more_than_2_to_the_53_vnd_is_counted_exactly(
    redis: Redis, campaign: str
) -> None:
    benefits = [MAX_BENEFIT_VND] * 10 + [1]  # the consumer polls up to 2000 records a batch
    batch = [(n, submitted(campaign, n, benefit_vnd=b)) for n, b in enumerate(benefits)]

    await CounterStore(redis).apply(TOPIC, 0, batch)

    assert (await read_unit(redis, campaign, PROVINCE)).benefit_vnd == 10**16 + 1


# --- rankings, steps and partitions -----------------------------------------------------------

SCHOOLS = {  # grassroots unit → (upper-level union, emulation cluster, members)
    "cdcs-gd-1": ("dak-lak-giao-duc", "cum-truong-hoc", 40),
    "cdcs-gd-2": ("dak-lak-giao-duc", "cum-truong-hoc", 120),
    "cdcs-gd-3": ("dak-lak-giao-duc", "cum-truong-hoc", 0),
    "cdcs-yt-1": ("dak-lak-y-te", "cum-benh-vien", 75),
    "cdcs-yt-2": ("dak-lak-y-te", "cum-truong-hoc", 300),
}
UPPERS = {"dak-lak-giao-duc": "cum-nganh", "dak-lak-y-te": "cum-nganh"}


def school_path(school: str) -> list[str]:
    return [ROOT, PROVINCE, SCHOOLS[school][0], school]


async def seed_registry(redis: Redis, campaign: str) -> Rankings:
    """The Đắk Lắk units with clusters, members and targets (one school without a target)."""
    rankings = Rankings(redis)
    events: list[Any] = [
        union_event([ROOT], UnionLevel.NATIONAL),
        union_event([ROOT, PROVINCE], UnionLevel.PROVINCE, members=5000),
    ]
    events += [
        union_event([ROOT, PROVINCE, upper], UnionLevel.UPPER_LEVEL, cluster=cluster)
        for upper, cluster in UPPERS.items()
    ]
    events += [
        union_event(school_path(s), UnionLevel.GRASSROOTS, members=m, cluster=c)
        for s, (_, c, m) in SCHOOLS.items()
    ]
    defined = dak_lak_campaign(campaign, [ROOT, PROVINCE])  # counting valid initiatives here
    events += [
        defined.model_copy(
            update={"data": defined.data.model_copy(update={"counts": CountedStatus.VALID})}
        )
    ]
    events += [target_event(campaign, [ROOT, PROVINCE], assigned=2500)]
    events += [
        target_event(campaign, school_path(school), assigned=3 + n, own=(5 if n == 1 else None))
        for n, school in enumerate(list(SCHOOLS)[:-1])
    ]
    events += [target_event(campaign, [ROOT, PROVINCE, upper], assigned=10) for upper in UPPERS]
    for event in events:
        assert await apply_registry_event(redis, encode(event), rankings)
    return rankings


async def rankings_as_stored(redis: Redis, campaign: str) -> dict[str, dict[str, float]]:
    """Every ranking of the campaign: key suffix → {unit: score}."""
    prefix = f"{CounterKeys(campaign).prefix}:rk:"
    found = {}
    async for key in redis.scan_iter(match=prefix + "*", count=500):
        members = await redis.zrange(key, 0, -1, withscores=True)
        if members:
            found[key.removeprefix(prefix)] = dict(members)
    return found


async def rankings_recomputed(redis: Redis, campaign: str) -> dict[str, dict[str, float]]:
    """The rankings computed the plain way from the counters, targets and registry."""
    units = {ROOT: ("", "", "national", 100), PROVINCE: (ROOT, "", "province", 5000)}
    units |= {u: (PROVINCE, c, "upper_level", 100) for u, c in UPPERS.items()}
    units |= {s: (u, c, "grassroots", m) for s, (u, c, m) in SCHOOLS.items()}
    expected: dict[str, dict[str, float]] = {}
    for unit, (parent, cluster, level, members) in units.items():
        counters = await read_unit(redis, campaign, unit)
        targets = await redis.hgetall(RegistryKeys.target(campaign, unit))
        target = int(targets.get("own_target") or targets.get("assigned_target") or 0)
        scores = {
            "pct": 100 * counters.valid / target if target else None,
            "per100": 100 * counters.valid / members if members else None,
            "people": float(counters.people),
        }
        for metric, score in scores.items():
            for grouping, group in (("ch", parent), ("cl", cluster), ("lv", level)):
                if group and score is not None:
                    expected.setdefault(f"{metric}:{grouping}:{group}", {})[unit] = score
    return expected


def school_events(campaign: str, seed: int) -> list[InitiativeEvent]:
    """Submissions at every school by a few people, then reviews and withdrawals."""
    rng = random.Random(seed)
    events: list[InitiativeEvent] = []
    people = [f"p-{n:04x}" for n in range(6)]
    for number in range(60):
        school = rng.choice(list(SCHOOLS))
        author = (rng.choice(people), AuthorCategory.PUBLIC_SERVICE_STAFF)
        events.append(submitted(campaign, number, path=school_path(school), authors=[author]))
        fate = rng.random()
        if fate < 0.5:
            decision = ReviewDecision.VALID if fate < 0.35 else ReviewDecision.REJECTED
            events.append(reviewed(campaign, number, decision, path=school_path(school)))
        elif fate < 0.65:
            events.append(withdrawn(campaign, number, path=school_path(school)))
    return events


async def test_ancestors_wait_in_the_ranking_queue_until_the_refresher_places_them(
    redis: Redis, campaign: str
) -> None:
    rankings = await seed_registry(redis, campaign)
    store = CounterStore(redis, directory=rankings.directory)
    path = school_path("cdcs-yt-1")
    await store.apply(TOPIC, 0, [(0, submitted(campaign, 0, path=path))])
    queue = CounterKeys(campaign).ranking_queue
    before = await rankings_as_stored(redis, campaign)

    assert await redis.smembers(queue) == set(path[:-1])
    assert before["people:cl:cum-benh-vien"]["cdcs-yt-1"] == 1.0  # its own unit: at once
    assert before["people:lv:upper_level"]["dak-lak-y-te"] == 0.0
    await RankingRefresher(redis, rankings).refresh_all()
    after = await rankings_as_stored(redis, campaign)
    assert await redis.smembers(queue) == set()
    assert after["people:lv:upper_level"]["dak-lak-y-te"] == 1.0


@pytest.mark.parametrize("step_events", [1, 7, 500])
async def test_rankings_equal_a_recomputation_from_the_counters(
    redis: Redis, campaign: str, step_events: int
) -> None:
    rankings = await seed_registry(redis, campaign)
    store = CounterStore(redis, directory=rankings.directory, step_events=step_events)
    logs: list[list[InitiativeEvent]] = [[], []]
    for event in school_events(campaign, seed=step_events):
        logs[zlib.crc32(event.union_id.encode()) % 2].append(event)
    positions = [0, 0]
    while positions != [len(log) for log in logs]:  # polls of both partitions, uneven sizes
        poll = {}
        for p, log in enumerate(logs):
            take = range(positions[p], min(positions[p] + 4 + 3 * p, len(log)))
            poll[p] = [(offset, log[offset]) for offset in take]
            positions[p] = take.stop
        await store.apply_partitions(TOPIC, poll)
    await RankingRefresher(redis, rankings).refresh_all()  # the ancestors the steps queued

    assert await rankings_as_stored(redis, campaign) == await rankings_recomputed(redis, campaign)


async def test_a_target_change_re_ranks_the_unit(redis: Redis, campaign: str) -> None:
    rankings = await seed_registry(redis, campaign)
    store = CounterStore(redis, directory=rankings.directory)
    await store.apply(TOPIC, 0, list(enumerate(school_events(campaign, seed=3))))

    await apply_registry_event(
        redis, encode(target_event(campaign, school_path("cdcs-yt-2"), own=1)), rankings
    )
    await apply_registry_event(
        redis, encode(target_event(campaign, school_path("cdcs-gd-1"), assigned=50)), rankings
    )
    await RankingRefresher(redis, rankings).refresh_all()

    assert await rankings_as_stored(redis, campaign) == await rankings_recomputed(redis, campaign)


async def test_a_unit_counted_before_the_registry_knew_it_is_ranked_when_it_arrives(
    redis: Redis, campaign: str, unique: str
) -> None:
    rankings = await seed_registry(redis, campaign)
    store = CounterStore(redis, directory=rankings.directory)
    school = f"cdcs-moi-{unique}"
    path = [ROOT, PROVINCE, "dak-lak-y-te", school]
    await store.apply(TOPIC, 0, [(0, submitted(campaign, 0, path=path))])
    assert school not in (await rankings_as_stored(redis, campaign))["people:lv:grassroots"]

    upsert = union_event(path, UnionLevel.GRASSROOTS, cluster="cum-benh-vien")
    await apply_registry_event(redis, encode(upsert), rankings)

    stored = await rankings_as_stored(redis, campaign)
    for ranking in ("people:lv:grassroots", "people:ch:dak-lak-y-te", "people:cl:cum-benh-vien"):
        assert stored[ranking][school] == 1.0, ranking


async def test_one_step_over_two_partitions_fences_each_on_its_own(
    redis: Redis, campaign: str
) -> None:
    store = CounterStore(redis)
    first = {0: [(0, submitted(campaign, 0))], 1: [(0, submitted(campaign, 1))]}
    assert await store.apply_partitions(TOPIC, first) == ApplyResult(applied=2)

    # Partition 0 is redelivered from its start while partition 1 goes on.
    again = {
        0: [(0, submitted(campaign, 0)), (1, submitted(campaign, 2))],
        1: [(1, submitted(campaign, 3))],
    }
    assert await store.apply_partitions(TOPIC, again) == ApplyResult(applied=2, fenced=1)
    assert (await read_unit(redis, campaign, PROVINCE)).registered == 4


async def test_a_registry_record_read_again_fills_in_the_compact_copy_it_lacks(
    redis: Redis, campaign: str, unique: str
) -> None:
    rankings = await seed_registry(redis, campaign)
    school = f"cdcs-cu-{unique}"
    upsert = union_event(
        [ROOT, PROVINCE, "dak-lak-y-te", school], UnionLevel.GRASSROOTS, cluster="cum-benh-vien"
    )
    await apply_registry_event(redis, encode(upsert), rankings)
    await redis.hdel(RegistryKeys.facts(), school)  # as a Redis from before that copy existed

    await apply_registry_event(redis, encode(upsert), rankings)  # the next start reads it again

    facts = await redis.hget(RegistryKeys.facts(), school)
    assert decode_facts(facts) == ("dak-lak-y-te", "cum-benh-vien", "grassroots", 100)


async def test_a_unit_that_moves_cluster_leaves_the_old_clusters_rankings(
    redis: Redis, campaign: str, unique: str
) -> None:
    rankings = await seed_registry(redis, campaign)
    path = [ROOT, PROVINCE, "dak-lak-y-te", f"cdcs-chuyen-{unique}"]
    for cluster in ("cum-benh-vien", "cum-truong-hoc"):
        upsert = union_event(path, UnionLevel.GRASSROOTS, cluster=cluster)
        await apply_registry_event(redis, encode(upsert), rankings)

    stored = await rankings_as_stored(redis, campaign)
    assert path[-1] not in stored["people:cl:cum-benh-vien"]
    assert path[-1] in stored["people:cl:cum-truong-hoc"]
