"""A submission service in the test's process, seeded with a small Đắk Lắk hierarchy, and a
token per role. Talks to the app over ASGI with httpx, as a client would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.submission.app import create_app
from services.submission.domain.access import Principal, Role
from services.submission.schemas import CampaignCreate, UnitCreate
from services.submission.service import campaigns, tokens, units
from shared.events import UnionLevel
from shared.settings import SubmissionSettings

ROOT = "tong-ldld-vn"
PROVINCE = "dak-lak"
UPPER = "dak-lak-giao-duc"
SCHOOL = "cdcs-thpt-buon-ma-thuot"
SCHOOL_2 = "cdcs-thpt-chu-van-an"
OTHER_PROVINCE = "ha-noi"
OTHER_SCHOOL = "cdcs-ha-noi-cong-nghiep"
CAMPAIGN = "dak-lak-dot-cao-diem"
PAST_CAMPAIGN = "dak-lak-2022"

HIERARCHY = [
    (ROOT, None, UnionLevel.NATIONAL, "Tổng Liên đoàn Lao động Việt Nam"),
    (PROVINCE, ROOT, UnionLevel.PROVINCE, "LĐLĐ tỉnh Đắk Lắk"),
    (UPPER, PROVINCE, UnionLevel.UPPER_LEVEL, "Công đoàn ngành Giáo dục Đắk Lắk"),
    (SCHOOL, UPPER, UnionLevel.GRASSROOTS, "CĐCS Trường THPT Buôn Ma Thuột"),
    (SCHOOL_2, UPPER, UnionLevel.GRASSROOTS, "CĐCS Trường THPT Chu Văn An"),
    (OTHER_PROVINCE, ROOT, UnionLevel.PROVINCE, "LĐLĐ thành phố Hà Nội"),
    (OTHER_SCHOOL, OTHER_PROVINCE, UnionLevel.GRASSROOTS, "CĐCS Công ty Cơ khí Hà Nội"),
]


@dataclass
class World:
    """The running app, a client, and tokens by name (``admin``, ``officer``, …)."""

    client: httpx.AsyncClient
    settings: SubmissionSettings
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """Headers for the token named ``who``."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(
        self, path: str, body: Any, who: str = "admin", **headers: str
    ) -> httpx.Response:
        """POST JSON as ``who``."""
        return await self.client.post(path, json=body, headers={**self.auth(who), **headers})

    async def get(self, path: str, who: str = "admin", **params: Any) -> httpx.Response:
        """GET as ``who``."""
        return await self.client.get(path, params=params, headers=self.auth(who))


def submission_settings(database_url: str, **overrides: Any) -> SubmissionSettings:
    """Settings for an in-process submission service (no relay unless asked)."""
    values: dict[str, Any] = {
        "submission_database_url": database_url,
        "submission_relay_enabled": False,
        "kafka_bootstrap_servers": "127.0.0.1:1",
        **overrides,
    }
    return SubmissionSettings(**values)


def initiative(**overrides: Any) -> dict[str, Any]:
    """A valid registration body at SCHOOL for CAMPAIGN."""
    body: dict[str, Any] = {
        "campaign_id": CAMPAIGN,
        "union_id": SCHOOL,
        "title": "Cải tiến quy trình tiếp nhận hồ sơ học sinh",
        "summary": "Số hoá hồ sơ nhập học, giảm thời gian chờ của phụ huynh.",
        "field": "Giáo dục và đào tạo",
        "authors": [{"name": "Nguyễn Thị Hoa", "category": "public_service_staff"}],
        "recognised_by": "initiative_council",
        "recognised_on": (date.today() - timedelta(days=3)).isoformat(),
        "application_date": (date.today() - timedelta(days=30)).isoformat(),
        "estimated_benefit_vnd": 15_000_000,
    }
    body.update(overrides)
    return body


@asynccontextmanager
async def running_world(settings: SubmissionSettings) -> AsyncIterator[World]:
    """Start the app (lifespan included), seed the hierarchy, a campaign and tokens."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://submission") as client:
            world = World(client, settings, app)
            await _seed(world)
            yield world


async def _seed(world: World) -> None:
    system = Principal("seed", "seed", Role.ADMIN, ROOT)
    today = date.today()
    async with world.app.state.uow.transaction() as session:
        for unit_id, parent, level, name in HIERARCHY:
            await units.create_unit(
                session,
                world.settings,
                system,
                UnitCreate(id=unit_id, parent_id=parent, level=level, name=name),
            )
            await session.flush()
        for campaign_id, starts, ends in (
            (CAMPAIGN, today - timedelta(days=10), today + timedelta(days=25)),
            (PAST_CAMPAIGN, date(2022, 4, 27), date(2022, 5, 31)),
        ):
            body = CampaignCreate(
                id=campaign_id,
                name=f"Đợt cao điểm {campaign_id}",
                organiser_id=PROVINCE,
                starts_on=starts,
                ends_on=ends,
                eligible_from=starts - timedelta(days=365),
                eligible_to=ends,
            )
            await campaigns.define_campaign(session, world.settings, system, body, replace=False)
        roles = {
            "admin": (Role.ADMIN, PROVINCE),
            "officer": (Role.OFFICER, UPPER),
            "importer": (Role.IMPORTER, SCHOOL),
            "viewer": (Role.VIEWER, PROVINCE),
            "outsider": (Role.OFFICER, OTHER_PROVINCE),
            "root": (Role.ADMIN, ROOT),
        }
        for name, (role, scope) in roles.items():
            issued = await tokens.issue(
                session,
                role=role,
                scope_union_id=scope,
                actor_id=f"{name}-01",
                label=name,
                valid_for=timedelta(days=1),
            )
            world.tokens[name] = issued.token


def utc(*args: int) -> str:
    """An ISO UTC instant."""
    return datetime(*args, tzinfo=UTC).isoformat()
