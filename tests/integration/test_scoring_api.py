"""Progress queries answered from Redis, for the Đắk Lắk source case."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from event_samples import initiative_submitted
from fastapi.testclient import TestClient

from services.scoring.adapters.counters import CounterStore
from services.scoring.adapters.registry import apply_registry_event
from services.scoring.app import create_app
from shared.events import (
    CampaignDefined,
    CampaignDefinedData,
    CountedStatus,
    TargetSet,
    TargetSetData,
    UnionLevel,
    UnionUpserted,
    UnionUpsertedData,
    encode,
)
from shared.redis import create_redis
from shared.settings import ScoringSettings

pytestmark = pytest.mark.integration

ROOT, PROVINCE = "tong-ldld-vn", "dak-lak"
UPPERS = ["dak-lak-giao-duc", "dak-lak-y-te"]
SCHOOLS = {f"cdcs-{upper}-{n}": upper for upper in UPPERS for n in range(3)}
LAUNCH = datetime(2022, 4, 27, 10, tzinfo=UTC)


def _unit(unit_id: str, path: list[str], level: UnionLevel) -> UnionUpserted:
    data = UnionUpsertedData(
        name=f"Đơn vị {unit_id}",
        level=level,
        parent_id=path[-2] if len(path) > 1 else None,
        members=100,
    )
    return UnionUpserted(
        occurred_at=LAUNCH, campaign_id=None, union_id=unit_id, union_path=path, data=data
    )


async def _seed(redis_url: str, campaign: str) -> None:
    redis = create_redis(redis_url)
    registry = [
        _unit(ROOT, [ROOT], UnionLevel.NATIONAL),
        _unit(PROVINCE, [ROOT, PROVINCE], UnionLevel.PROVINCE),
    ]
    registry += [_unit(u, [ROOT, PROVINCE, u], UnionLevel.UPPER_LEVEL) for u in UPPERS]
    registry += [
        _unit(s, [ROOT, PROVINCE, u, s], UnionLevel.GRASSROOTS) for s, u in SCHOOLS.items()
    ]
    definition = CampaignDefinedData(
        name="Đợt cao điểm 40 ngày",
        starts_on=date(2022, 4, 27),
        ends_on=date(2022, 5, 31),
        eligible_from=date(2022, 1, 8),
        eligible_to=date(2022, 5, 31),
        counts=CountedStatus.REGISTERED,
    )
    registry.append(
        CampaignDefined(
            occurred_at=LAUNCH,
            campaign_id=campaign,
            union_id=PROVINCE,
            union_path=[ROOT, PROVINCE],
            data=definition,
        )
    )
    target = TargetSetData(assigned_target=2500, changed_by="lanh-dao-tinh")
    registry.append(
        TargetSet(
            occurred_at=LAUNCH,
            campaign_id=campaign,
            union_id=PROVINCE,
            union_path=[ROOT, PROVINCE],
            data=target,
        )
    )
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

    assert (progress["registered"], progress["target"], progress["percentage"]) == (
        696,
        2500,
        27.84,
    )
    assert progress["backlog"]["waiting"] == 696
    assert [c["union_id"] for c in children] == sorted(UPPERS)
    assert sum(c["registered"] for c in children) == 696
    assert unknown.status_code == 404


async def test_rankings_follow_counters_and_target_changes(redis_url: str, unique: str) -> None:
    campaign = f"dak-lak-{unique}"
    await _seed(redis_url, campaign)
    redis = create_redis(redis_url)
    for upper, target in zip(UPPERS, (200, 600), strict=True):  # 348 each: 174% and 58%
        data = TargetSetData(own_target=target, changed_by="lanh-dao-tinh")
        path = [ROOT, PROVINCE, upper]
        await apply_registry_event(
            redis,
            encode(
                TargetSet(
                    occurred_at=LAUNCH,
                    campaign_id=campaign,
                    union_id=upper,
                    union_path=path,
                    data=data,
                )
            ),
        )
    settings = ScoringSettings(
        redis_url=redis_url, scoring_consume=False, kafka_bootstrap_servers="127.0.0.1:1"
    )

    with TestClient(create_app(settings)) as client:
        board = client.get(f"/campaigns/{campaign}/leaderboards/children/{PROVINCE}").json()[
            "items"
        ]
        progress = client.get(f"/campaigns/{campaign}/units/{UPPERS[1]}/progress").json()
        data = TargetSetData(
            own_target=100, changed_by="lanh-dao-tinh"
        )  # the laggard lowers its own target
        await apply_registry_event(
            redis,
            encode(
                TargetSet(
                    occurred_at=LAUNCH,
                    campaign_id=campaign,
                    union_id=UPPERS[1],
                    union_path=[ROOT, PROVINCE, UPPERS[1]],
                    data=data,
                )
            ),
        )
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
