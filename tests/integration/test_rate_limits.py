"""Registration is rate-limited per API token (a token bucket): over the limit the answer is 429
with Retry-After and a JSON error naming the limit, and nothing of the refused request is
stored; other tokens and other endpoints are not held back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from submission_world import CAMPAIGN, SCHOOL, World, initiative, running_world, submission_settings

pytestmark = pytest.mark.integration

BURST = 3
# One request every 10 s once the burst is spent: a slow machine cannot see a refill between
# the burst and the request that must be refused.
RATE = 0.1
REFILL_RATE = 2.0  # a request every half second: the refill test waits for one


def _limited(tmp_path: Path, rate: float) -> AbstractAsyncContextManager[World]:
    settings = submission_settings(
        f"sqlite+aiosqlite:///{tmp_path}/submission.db",
        submission_registration_rate_per_second=rate,
        submission_registration_burst=BURST,
    )
    return running_world(settings)


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[World]:
    """The submission world with a small registration limit."""
    async with _limited(tmp_path, RATE) as world:
        yield world


@pytest.fixture
async def refilling(tmp_path: Path) -> AsyncIterator[World]:
    """The submission world with a small burst that refills quickly."""
    async with _limited(tmp_path, REFILL_RATE) as world:
        yield world


def _csv(title: str) -> bytes:
    today = date.today()
    recognised = (today - timedelta(days=3)).strftime("%d/%m/%Y")
    applied = (today - timedelta(days=30)).strftime("%d/%m/%Y")
    header = "Mã đợt,Mã đơn vị,Tên sáng kiến,Lĩnh vực,Tác giả,Đối tượng,Cấp công nhận,"
    header += "Ngày công nhận,Ngày áp dụng"
    row = f"{CAMPAIGN},{SCHOOL},{title},Giáo dục,Trần Văn Nam,CCVC,Hội đồng sáng kiến,"
    row += f"{recognised},{applied}"
    return f"{header}\n{row}\n".encode()


async def _register(world: World, kind: str, n: int, who: str = "importer") -> httpx.Response:
    title = f"Sáng kiến số {n} về quản lý hồ sơ {kind}"
    if kind == "one":
        return await world.post("/initiatives", initiative(title=title), who=who)
    if kind == "batch":
        return await world.post(
            "/initiatives/batch", {"initiatives": [initiative(title=title)]}, who
        )
    headers = {"Content-Type": "text/csv", **world.auth(who)}
    return await world.client.post("/initiatives/import", content=_csv(title), headers=headers)


async def _stored(world: World) -> int:
    page = await world.get("/initiatives", who="admin", limit=500)
    return len(page.json()["items"])


@pytest.mark.parametrize("kind", ["one", "batch", "import"])
async def test_over_the_burst_a_registration_gets_429_with_retry_after_and_stores_nothing(
    limited: World, kind: str
) -> None:
    accepted = [await _register(limited, kind, n) for n in range(BURST)]
    refused = await _register(limited, kind, BURST)

    assert [r.status_code for r in accepted] == [201 if kind == "one" else 200] * BURST
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 1 / RATE
    problem = refused.json()["problems"][0]
    assert (refused.json()["error"], problem["rule"]) == ("rate_limited", "registration_rate")
    assert (
        "0.1 requests a second" in problem["message"] and f"bursts of {BURST}" in problem["message"]
    )
    assert await _stored(limited) == BURST


async def test_the_three_registration_endpoints_share_one_allowance(limited: World) -> None:
    answers = [
        await _register(limited, kind, n) for n, kind in enumerate(("one", "batch", "import"))
    ]
    refused = await _register(limited, "one", 9)

    assert [a.status_code for a in answers] == [201, 200, 200]
    assert refused.status_code == 429


async def test_another_token_and_reading_are_not_held_back(limited: World) -> None:
    for n in range(BURST + 1):
        await _register(limited, "one", n, who="importer")

    other = await _register(limited, "one", 100, who="officer")
    reading = await limited.get("/initiatives", who="importer")

    assert other.status_code == 201
    assert reading.status_code == 200


async def test_the_allowance_refills_at_the_rate(refilling: World) -> None:
    for n in range(BURST + 1):
        await _register(refilling, "one", n)
    refused_at = time.monotonic()

    n = 10
    while (answer := await _register(refilling, "one", n)).status_code == 429:
        assert time.monotonic() - refused_at < 5, "the allowance did not refill"
        await asyncio.sleep(0.05)
        n += 1

    assert answer.status_code == 201
    assert time.monotonic() - refused_at < 1 / REFILL_RATE + 1.0


async def test_the_default_limit_does_not_hold_back_a_fast_client(world: World) -> None:
    answers = await asyncio.gather(*(_register(world, "one", n, who="importer") for n in range(50)))

    assert {a.status_code for a in answers} == {201}
