"""Progress queries answered from Redis, for the Đắk Lắk source case."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from event_samples import dak_lak_campaign, initiative_submitted, target_event, union_event
from fastapi.testclient import TestClient

from services.scoring.adapters.counters import CounterStore
from services.scoring.adapters.registry import apply_registry_event
from services.scoring.app import create_app
from shared.events import AnyEvent, UnionLevel, encode
from shared.redis import create_redis
from shared.settings import ScoringSettings

pytestmark = pytest.mark.integration

ROOT, PROVINCE = "tong-ldld-vn", "dak-lak"
UPPERS = ["dak-lak-giao-duc", "dak-lak-y-te"]
SCHOOLS = {f"cdcs-{upper}-{n}": upper for upper in UPPERS for n in range(3)}
LAUNCH = datetime(2022, 4, 27, 10, tzinfo=UTC)


async def _seed(redis_url: str, campaign: str) -> None:
    redis = create_redis(redis_url)
    registry: list[AnyEvent] = [
        union_event([ROOT], UnionLevel.NATIONAL),
        union_event([ROOT, PROVINCE], UnionLevel.PROVINCE),
    ]
    registry += [union_event([ROOT, PROVINCE, u], UnionLevel.UPPER_LEVEL) for u in UPPERS]
    registry += [
        union_event([ROOT, PROVINCE, u, s], UnionLevel.GRASSROOTS) for s, u in SCHOOLS.items()
    ]
    registry += [
        dak_lak_campaign(campaign, [ROOT, PROVINCE]),
        target_event(campaign, [ROOT, PROVINCE], assigned=2500),
    ]
    for event in registry:
        assert await apply_registry_event(redis, encode(event))
    sample = initiative_submitted()
    schools = list(SCHOOLS.items())
    events = []
    for n in range(696):
        school, upper = schools[n % len(schools)]
        data = sample.data.model_copy(update={"initiative_id": uuid4()})
        events.append(
            (
                n,
                sample.model_copy(
                    update={
                        "event_id": uuid4(),
                        "campaign_id": campaign,
                        "union_id": school,
                        "union_path": [ROOT, PROVINCE, upper, school],
                        "occurred_at": LAUNCH,
                        "data": data,
                    }
                ),
            )
        )
    store = CounterStore(redis)
    for start in range(0, len(events), 100):
        await store.apply("initiative-events", 0, events[start : start + 100])
    await redis.aclose()


async def test_the_province_reads_27_84_percent_with_696_registered_of_2500(
    redis_url: str, unique: str
) -> None:
    campaign = f"dak-lak-{unique}"
    await _seed(redis_url, campaign)
    settings = ScoringSettings(
        redis_url=redis_url, scoring_consume=False, kafka_bootstrap_servers="127.0.0.1:1"
    )

    with TestClient(create_app(settings)) as client:
        progress = client.get(f"/campaigns/{campaign}/units/{PROVINCE}/progress").json()
        children = client.get(f"/campaigns/{campaign}/units/{PROVINCE}/children").json()["items"]
        unknown = client.get(f"/campaigns/no-such/units/{PROVINCE}/progress")
        no_unit = client.get(f"/campaigns/{campaign}/units/no-such-unit/progress")

    assert (progress["registered"], progress["target"], progress["percentage"]) == (
        696,
        2500,
        27.84,
    )
    assert progress["backlog"]["waiting"] == 696
    assert [c["union_id"] for c in children] == sorted(UPPERS)
    assert sum(c["registered"] for c in children) == 696
    assert unknown.status_code == 404
    assert no_unit.status_code == 404
    assert no_unit.json()["problems"][0]["field"] == "unit_id"


async def test_rankings_follow_counters_and_target_changes(redis_url: str, unique: str) -> None:
    campaign = f"dak-lak-{unique}"
    await _seed(redis_url, campaign)
    redis = create_redis(redis_url)
    for upper, target in zip(UPPERS, (200, 600), strict=True):  # 348 each: 174% and 58%
        await apply_registry_event(
            redis, encode(target_event(campaign, [ROOT, PROVINCE, upper], own=target))
        )
    settings = ScoringSettings(
        redis_url=redis_url, scoring_consume=False, kafka_bootstrap_servers="127.0.0.1:1"
    )

    with TestClient(create_app(settings)) as client:
        board = client.get(f"/campaigns/{campaign}/leaderboards/children/{PROVINCE}").json()[
            "items"
        ]
        progress = client.get(f"/campaigns/{campaign}/units/{UPPERS[1]}/progress").json()
        # The laggard lowers its own target: it moves to the top.
        lowered = target_event(campaign, [ROOT, PROVINCE, UPPERS[1]], own=100)
        await apply_registry_event(redis, encode(lowered))
        after = client.get(f"/campaigns/{campaign}/leaderboards/children/{PROVINCE}").json()[
            "items"
        ]
        totals = client.get(f"/campaigns/{campaign}/totals").json()
        series = client.get(f"/campaigns/{campaign}/units/{PROVINCE}/series").json()["counts"]
    await redis.aclose()

    assert [(row["union_id"], row["score"]) for row in board] == [
        (UPPERS[0], 174.0),
        (UPPERS[1], 58.0),
    ]
    assert progress["ranks"]["among_siblings"] == {"rank": 2, "of": 2}
    assert [row["union_id"] for row in after] == [UPPERS[1], UPPERS[0]]
    assert totals["union_id"] == PROVINCE and totals["registered"] == 696
    assert series == {"2022-04-27": 696}
