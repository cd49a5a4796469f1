"""read_summaries: the four numbers a lag evaluation needs, summed inside Redis, equal what
the full read gives."""

from __future__ import annotations

from datetime import date

import pytest

from shared.counters import CounterKeys, UnitSummary, read_summaries, read_units
from shared.redis import create_redis

pytestmark = pytest.mark.integration

HASHES = {
    "cdcs-a": {
        "registered": 30,
        "valid": 12,
        "under_review": 15,
        "q:2022-05-01": 4,
        "q:2022-05-09": 5,  # the day before the cutoff: waiting too long
        "q:2022-05-10": 6,  # the cutoff day itself: not yet
        "d:2022-05-10": 9,
        "f:registered|Giáo dục": 30,
        "rk:pct": 75,
    },
    "cdcs-b": {"registered": 3, "under_review": 3, "q:2022-05-12": 3},
}


async def test_summaries_equal_what_the_full_read_says(redis_url: str, unique: str) -> None:
    campaign = f"c-{unique}"
    redis = create_redis(redis_url)
    try:
        for unit_id, fields in HASHES.items():
            await redis.hset(CounterKeys(campaign).unit(unit_id), mapping=fields)
        ids = [*HASHES, "cdcs-nothing-yet"]
        cutoff = date(2022, 5, 10)

        summaries = await read_summaries(redis, campaign, ids, waiting_before=cutoff, chunk=2)
        full = await read_units(redis, campaign, ids)
    finally:
        await redis.aclose()

    assert summaries == {unit_id: full[unit_id].summary(cutoff) for unit_id in ids}
    assert summaries["cdcs-a"] == UnitSummary(registered=30, valid=12, under_review=15, waiting=9)
    assert summaries["cdcs-nothing-yet"] == UnitSummary(0, 0, 0, 0)
