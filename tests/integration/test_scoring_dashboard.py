"""What the dashboard reads from scoring: the burn-up, the list of campaigns, the page itself
and its configuration."""

from __future__ import annotations

import re
from datetime import date, datetime
from uuid import uuid4

import pytest
from event_samples import (
    ICT,
    dak_lak_campaign,
    initiative_submitted,
    target_event,
    union_event,
)
from fastapi.testclient import TestClient

from services.scoring.adapters.counters import CounterStore
from services.scoring.adapters.registry import apply_registry_event
from services.scoring.api.dashboard import ASSETS, ASSETS_DIR
from services.scoring.app import create_app
from shared.events import AnyEvent, UnionLevel, encode
from shared.redis import create_redis
from shared.settings import ScoringSettings

pytestmark = pytest.mark.integration

PATH = ["tong-ldld-vn", "dak-lak", "dak-lak-giao-duc", "cdcs-thpt-buon-ma-thuot"]
MID_CAMPAIGN = datetime(2022, 5, 20, 8, tzinfo=ICT)  # two thirds of 27 April–31 May
REGISTERED_ON = {date(2022, 4, 27): 2, date(2022, 5, 2): 3, date(2022, 5, 20): 1}


def _settings(redis_url: str, **extra: object) -> ScoringSettings:
    return ScoringSettings(
        redis_url=redis_url,
        scoring_consume=False,
        kafka_bootstrap_servers="127.0.0.1:1",
        clock_start=MID_CAMPAIGN,
        clock_speed=0,
        **extra,
    )


async def _seed(redis_url: str, campaign: str) -> None:
    """The hierarchy, the campaign with the province's target of 20, and six registrations."""
    redis = create_redis(redis_url)
    levels = [UnionLevel.NATIONAL, UnionLevel.PROVINCE, UnionLevel.UPPER_LEVEL]
    registry: list[AnyEvent] = [
        union_event(PATH[: n + 1], level)
        for n, level in enumerate([*levels, UnionLevel.GRASSROOTS])
    ]
    registry += [dak_lak_campaign(campaign, PATH[:2]), target_event(campaign, PATH[:2], own=20)]
    for event in registry:
        assert await apply_registry_event(redis, encode(event))
    sample = initiative_submitted()
    events = []
    for day, count in REGISTERED_ON.items():
        for _ in range(count):
            data = sample.data.model_copy(update={"initiative_id": uuid4()})
            update = {
                "event_id": uuid4(),
                "campaign_id": campaign,
                "union_id": PATH[-1],
                "union_path": PATH,
                "occurred_at": datetime(day.year, day.month, day.day, 7, tzinfo=ICT),
                "data": data,
            }
            events.append((len(events), sample.model_copy(update=update)))
    await CounterStore(redis).apply("initiative-events", 0, events)
    await redis.aclose()


async def test_the_burnup_agrees_with_progress_at_the_campaign_clock(
    redis_url: str, unique: str
) -> None:
    campaign = f"dak-lak-{unique}"
    await _seed(redis_url, campaign)

    with TestClient(create_app(_settings(redis_url))) as client:
        chart = client.get(f"/campaigns/{campaign}/units/dak-lak/burnup").json()
        progress = client.get(f"/campaigns/{campaign}/units/dak-lak/progress").json()
        unknown = client.get("/campaigns/no-such/units/dak-lak/burnup")

    points = {p["day"]: p for p in chart["points"]}
    assert (chart["union_id"], chart["today"], chart["counts"]) == (
        "dak-lak",
        "2022-05-20",
        "registered",
    )
    assert len(points) == 35
    assert [points[d]["actual"] for d in ("2022-04-27", "2022-05-02", "2022-05-20")] == [2, 5, 6]
    assert points["2022-05-21"]["actual"] is None
    assert (
        (chart["counted"], chart["target"]) == (progress["counted"], progress["target"]) == (6, 20)
    )
    assert chart["expected_now"] == round(progress["expected_percentage"] / 100 * 20, 2)
    assert points["2022-05-31"]["expected"] == 20.0
    assert points["2022-05-31"]["projected"] == chart["projected_total"]
    assert chart["projected_total"] == progress["projected_total"] == 9.0
    assert unknown.status_code == 404


async def test_campaigns_are_listed_latest_first_with_their_organiser(
    redis_url: str, unique: str
) -> None:
    earlier, later = f"giai-doan-1-{unique}", f"cao-diem-{unique}"
    await _seed(redis_url, later)
    redis = create_redis(redis_url)
    launch = dak_lak_campaign(earlier, PATH[:1])
    # Phase 1 of the national programme: it began before the province's peak campaign.
    phase = launch.model_copy(
        update={"data": launch.data.model_copy(update={"starts_on": date(2022, 1, 8)})}
    )
    assert await apply_registry_event(redis, encode(phase))
    await redis.aclose()

    with TestClient(create_app(_settings(redis_url))) as client:
        items = client.get("/campaigns").json()["items"]

    ours = [row for row in items if row["id"] in (earlier, later)]
    assert [row["id"] for row in ours] == [later, earlier]
    assert ours[0] == {
        "id": later,
        "name": "Đợt cao điểm 40 ngày",
        "organiser_id": "dak-lak",
        "organiser_name": "Đơn vị dak-lak",
        "starts_on": "2022-04-27",
        "ends_on": "2022-05-31",
        "timezone": "Asia/Ho_Chi_Minh",
        "counts": "registered",
    }
    assert ours[1]["organiser_id"] == "tong-ldld-vn"
    starts = [row["starts_on"] for row in items]
    assert starts == sorted(starts, reverse=True)


def test_the_page_its_files_and_its_configuration_are_served(redis_url: str) -> None:
    settings = _settings(
        redis_url,
        scoring_dashboard_submission_url="http://127.0.0.1:8001/",
        scoring_dashboard_notifier_url="http://127.0.0.1:8003",
    )

    with TestClient(create_app(settings)) as client:
        page = client.get("/dashboard")
        config = client.get("/dashboard/config.json").json()
        files = {name: client.get(f"/dashboard/{name}") for name in ASSETS}
        missing = client.get("/dashboard/secrets.js")
        outside = client.get("/dashboard/..%2Fapp.py")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-testid="tree"' in page.text
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:8001 http://127.0.0.1:8003" in policy
    assert config == {
        "submission_url": "http://127.0.0.1:8001",
        "notifier_url": "http://127.0.0.1:8003",
    }
    assert {name: r.status_code for name, r in files.items()} == dict.fromkeys(ASSETS, 200)
    assert files["app.js"].headers["content-type"].startswith("text/javascript")
    assert (missing.status_code, outside.status_code) == (404, 404)


def test_every_file_the_page_loads_is_one_that_is_served() -> None:
    sources = [ASSETS_DIR / "index.html", *ASSETS_DIR.glob("*.js")]
    loaded = set()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        loaded |= set(re.findall(r"""(?:href|src)="dashboard/([\w.]+)\"""", text))
        loaded |= set(re.findall(r"""from '\./([\w.]+)'""", text))

    assert loaded == set(ASSETS)
    assert {p.name for p in ASSETS_DIR.iterdir()} == {*ASSETS, "index.html"}


def test_without_addresses_the_page_is_told_to_leave_drilldown_and_alerts_out(
    redis_url: str,
) -> None:
    with TestClient(create_app(_settings(redis_url))) as client:
        config = client.get("/dashboard/config.json").json()
        policy = client.get("/dashboard").headers["content-security-policy"]

    assert config == {"submission_url": None, "notifier_url": None}
    assert "connect-src 'self';" in policy
