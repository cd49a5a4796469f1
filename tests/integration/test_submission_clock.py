"""The submission service registers and reviews on the campaign clock, so a simulated
campaign's initiatives land on its own days."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from submission_world import PAST_CAMPAIGN, initiative, running_world, submission_settings

# 10 May 2022, 09:00 in Buôn Ma Thuột: a day inside the 2022 campaign.
CLOCK = "2022-05-10T09:00:00+07:00"
AT = datetime(2022, 5, 10, 2, tzinfo=UTC)


async def test_registration_and_review_take_the_campaign_clock_time(tmp_path: Path) -> None:
    settings = submission_settings(
        f"sqlite+aiosqlite:///{tmp_path}/submission.db", clock_start=CLOCK, clock_speed=0
    )
    body = initiative(
        campaign_id=PAST_CAMPAIGN, recognised_on="2022-05-02", application_date="2022-03-01"
    )
    async with running_world(settings) as world:
        created = await world.post("/initiatives", body, who="officer")
        reviewed = await world.post(
            f"/initiatives/{created.json()['id']}/review", {"decision": "valid"}, who="officer"
        )

    assert created.status_code == 201, created.text
    assert datetime.fromisoformat(created.json()["submitted_at"]) == AT
    assert [datetime.fromisoformat(s["at"]) for s in reviewed.json()["history"]] == [AT, AT]


async def test_a_campaign_day_that_the_clock_has_not_reached_is_refused(tmp_path: Path) -> None:
    settings = submission_settings(
        f"sqlite+aiosqlite:///{tmp_path}/submission.db", clock_start=CLOCK, clock_speed=0
    )
    body = initiative(
        campaign_id=PAST_CAMPAIGN,
        recognised_on="2022-05-02",
        application_date="2022-03-01",
        submitted_at="2022-05-11T08:00:00+07:00",
    )
    async with running_world(settings) as world:
        refused = await world.post("/initiatives", body, who="importer")

    assert refused.status_code == 422
    assert refused.json()["problems"][0]["rule"] == "not_in_future"
