"""The weekly and monthly digests against real Redis counters, a real SQLite database and a real
SMTP server, on a fixed clock: through the notifier's loop (evaluation, then the digests due),
and over HTTP (the digest as JSON and as Excel, and sending it now).

A district federation of Đắk Lắk (TP Buôn Ma Thuột) whose head gets the digest, over a school,
a hospital and a kindergarten; the campaign of 27 April–31 May 2022 counting registered
initiatives. Monday 9 May is the first day of ISO week 19.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from event_samples import ICT, dak_lak_campaign, target_event, union_event
from kafka_tools import publish_registry
from notifier_servers import ReceivedEmail, SmtpCatcher
from openpyxl import load_workbook
from redis.asyncio import Redis
from token_service import notifier_as_root_admin

from services.notifier.adapters.email import EmailSender
from services.notifier.adapters.migrations import migrate
from services.notifier.domain.lifecycle import Policy
from services.notifier.domain.registry import Registry
from services.notifier.service.delivery import Dispatcher, Senders
from services.notifier.service.digests import DigestService
from services.notifier.service.evaluation import Evaluator
from services.notifier.service.runner import LEASE_NAME, NotifierRunner
from shared.clock import FixedClock
from shared.counters import CounterKeys
from shared.database import Database, create_engine
from shared.events import AlertChannel, AnyEvent, UnionHead, UnionLevel
from shared.redis import create_redis
from shared.settings import CommonSettings, NotifierSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

PROVINCE = ["tong-ldld", "ldld-dak-lak"]
DISTRICT = [*PROVINCE, "ldld-tp-bmt"]
SCHOOL, HOSPITAL, KINDERGARTEN = "cdcs-thpt", "cdcs-bv", "cdcs-mam-non"
UNITS = (SCHOOL, HOSPITAL, KINDERGARTEN)
HEAD = "tp@dl.vn"


def local(month: int, day: int, hour: int = 7, minute: int = 30) -> datetime:
    return datetime(2022, month, day, hour, minute, tzinfo=ICT)


def registry_events(campaign_id: str) -> list[AnyEvent]:
    """The district with its head, its three units and their targets."""
    head = UnionHead(name="Chủ tịch LĐLĐ TP", email=HEAD, alert_channels=[AlertChannel.EMAIL])
    return [
        union_event(PROVINCE[:1], UnionLevel.NATIONAL),
        union_event(PROVINCE, UnionLevel.PROVINCE),
        union_event(DISTRICT, UnionLevel.UPPER_LEVEL, head=head),
        *(union_event([*DISTRICT, u], UnionLevel.GRASSROOTS) for u in UNITS),
        dak_lak_campaign(campaign_id, PROVINCE),
        target_event(campaign_id, DISTRICT, assigned=120),
        target_event(campaign_id, [*DISTRICT, SCHOOL], assigned=40),
        target_event(campaign_id, [*DISTRICT, HOSPITAL], assigned=60),
        target_event(campaign_id, [*DISTRICT, KINDERGARTEN], assigned=20),
    ]


async def count(redis: Redis, campaign_id: str, registered: dict[str, int]) -> None:
    """Units' counters as scoring would leave them; the district holds their sum."""
    keys = CounterKeys(campaign_id)
    for unit_id, value in registered.items():
        await redis.hset(keys.unit(unit_id), "registered", value)
    await redis.hset(keys.unit(DISTRICT[-1]), "registered", sum(registered.values()))


async def week_19(redis: Redis, campaign_id: str) -> None:
    """9 May: the hospital well ahead, the school far behind, the kindergarten not begun; the
    hospital has 5 under review, 3 of them since 28 April."""
    await count(redis, campaign_id, {HOSPITAL: 40, SCHOOL: 6, KINDERGARTEN: 0})
    hospital = CounterKeys(campaign_id).unit(HOSPITAL)
    await redis.hset(hospital, mapping={"under_review": 5, "q:2022-04-28": 3, "q:2022-05-08": 2})


async def week_20(redis: Redis, campaign_id: str) -> None:
    """16 May: the school has overtaken the hospital."""
    await count(redis, campaign_id, {HOSPITAL: 42, SCHOOL: 30, KINDERGARTEN: 0})


# --- through the notifier's loop ------------------------------------------------------------


@dataclass
class World:
    campaign_id: str
    redis: Redis
    database: Database
    registry: Registry
    settings: NotifierSettings
    smtp: SmtpCatcher
    clock: FixedClock

    def runner(self, holder: str = "instance-a") -> NotifierRunner:
        """A notifier instance (a fresh one is a restart: it remembers nothing in memory)."""
        evaluator = Evaluator(
            database=self.database,
            redis=self.redis,
            registry=self.registry,
            policy=Policy(),
            lease_name=LEASE_NAME,
            holder=holder,
            alerts_topic=self.settings.topic_alerts,
            backlog_limit_days=7,
        )
        digests = DigestService(
            database=self.database,
            redis=self.redis,
            registry=self.registry,
            lease_name=LEASE_NAME,
            holder=holder,
            backlog_limit_days=7,
        )
        senders = Senders(email=EmailSender(self.settings), webhook=None, producer=None)
        ready = asyncio.Event()
        ready.set()
        return NotifierRunner(
            settings=self.settings,
            database=self.database,
            evaluator=evaluator,
            dispatcher=Dispatcher(
                database=self.database, senders=senders, lease_name=LEASE_NAME, holder=holder
            ),
            clock=self.clock,
            holder=holder,
            registry_ready=ready,
            digests=digests,
        )

    async def round(self, runner: NotifierRunner, at: datetime) -> None:
        """One round of the loop at ``at``: evaluate, make the digests due, send."""
        self.clock.set(at)
        assert await runner.take_lease()
        await runner.evaluate_now()
        await runner.dispatcher.dispatch_due()

    def digests(self, kind: str = "tuần") -> list[str]:
        """The plain-text digests of that kind the district's head received, in order."""
        return [
            email.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for email in self.smtp.emails
            if HEAD in email.rcpt_tos and f"bản tin {kind}" in str(email.message["Subject"])
        ]


@pytest.fixture
async def world(
    settings: CommonSettings, unique: str, tmp_path: Path, smtp_server: SmtpCatcher
) -> AsyncIterator[World]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    await migrate(url)
    engine = create_engine(url)
    redis = create_redis(settings.redis_url)
    campaign_id = f"dak-lak-{unique}"
    registry = Registry()
    for event in registry_events(campaign_id):
        registry.apply(event)
    config = smtp_server.settings(**settings.model_dump())
    try:
        yield World(
            campaign_id,
            redis,
            Database(engine),
            registry,
            config,
            smtp_server,
            FixedClock(local(5, 9)),
        )
    finally:
        await redis.aclose()
        await engine.dispose()


async def test_the_district_head_gets_the_weekly_digest_once_with_its_units_ranked(
    world: World,
) -> None:
    await week_19(world.redis, world.campaign_id)
    runner = world.runner()

    await world.round(runner, local(5, 9, 7, 30))
    await world.round(runner, local(5, 9, 8, 30))
    await world.round(runner, local(5, 12, 8, 30))

    [body] = world.digests()
    assert "Bản tin tuần 19/2022 (09/05–15/05/2022) phục vụ giao ban tuần" in body
    ranking = body[body.index("Xếp hạng đơn vị") : body.index("Đơn vị chậm tiến độ")]
    assert ranking.splitlines()[1:4] == [
        "1. Đơn vị cdcs-bv: 40/60 sáng kiến (66,67%), Đạt tiến độ; hạng mới.",
        "2. Đơn vị cdcs-thpt: 6/40 sáng kiến (15%), Chậm nghiêm trọng; hạng mới.",
        "3. Đơn vị cdcs-mam-non: 0/20 sáng kiến (0%), Chậm nghiêm trọng; hạng mới.",
    ]


async def test_next_weeks_digest_shows_how_each_unit_moved(world: World) -> None:
    runner = world.runner()
    await week_19(world.redis, world.campaign_id)
    await world.round(runner, local(5, 9))
    await week_20(world.redis, world.campaign_id)

    await world.round(runner, local(5, 16, 6, 59))
    await world.round(runner, local(5, 16, 7, 0))

    first, second = world.digests()  # none at 06:59
    assert "tuần 19/2022" in first and "tuần 20/2022" in second
    assert "1. Đơn vị cdcs-thpt: 30/40 sáng kiến (75%), Đạt tiến độ; hạng ↑1, tăng 24." in second
    assert "2. Đơn vị cdcs-bv: 42/60 sáng kiến (70%), Đạt tiến độ; hạng ↓1, tăng 2." in second
    assert "3. Đơn vị cdcs-mam-non: 0/20 sáng kiến (0%), Chậm nghiêm trọng; hạng =, tăng 0." in (
        second
    )
    assert "bản tin tuần trước (kỳ bắt đầu 09/05/2022)" in second


async def test_units_with_no_initiative_yet_and_the_backlog_are_listed(world: World) -> None:
    await week_19(world.redis, world.campaign_id)

    await world.round(world.runner(), local(5, 9))

    [body] = world.digests()
    assert "Đơn vị chưa có sáng kiến nào:\n- Đơn vị cdcs-mam-non (chỉ tiêu 20).\n" in body
    assert "- Đơn vị cdcs-bv: 5 đang xem xét, 3 chờ quá 7 ngày." in body


async def test_the_monthly_digest_goes_out_on_the_first(world: World) -> None:
    # Sunday 1 May: the month's digest; that week began before the campaign, so no weekly one.
    await world.round(world.runner(), local(5, 1, 7, 15))

    [body] = world.digests("tháng")
    assert "Bản tin tháng 05/2022 phục vụ giao ban tháng" in body
    assert world.digests("tuần") == []


async def test_a_restarted_notifier_does_not_send_the_weeks_digest_again(world: World) -> None:
    await week_19(world.redis, world.campaign_id)
    await world.round(world.runner(), local(5, 9))

    await world.round(world.runner(), local(5, 9, 9))

    assert len(world.digests()) == 1


# --- over HTTP ------------------------------------------------------------------------------


@asynccontextmanager
async def notifier_client(
    common: CommonSettings, tmp_path: Path, smtp: SmtpCatcher, campaign_id: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the registry topic (the test's own) and a fixed clock at 9 May 06:00, before
    the week's digest falls due; a client in process, once the registry is read."""
    await publish_registry(common, registry_events(campaign_id))
    settings = smtp.settings(
        **common.model_dump()
        | {
            "notifier_database_url": f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
            "clock_start": local(5, 9, 6, 0),
            "clock_speed": 0,
            "notifier_evaluation_interval_minutes": 10_000,
        }
    )
    # The API needs a token (an admin over the whole hierarchy): the submission service says.
    async with notifier_as_root_admin(settings, tmp_path, PROVINCE[0]) as client:
        yield client


async def test_the_excel_download_holds_the_same_digest_as_the_json(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher, unique: str
) -> None:
    campaign_id = f"dak-lak-{unique}"
    path = f"/campaigns/{campaign_id}/units/{DISTRICT[-1]}"
    redis = create_redis(settings.redis_url)
    try:
        await week_19(redis, campaign_id)
    finally:
        await redis.aclose()

    async with notifier_client(settings, tmp_path, smtp_server, campaign_id) as client:
        digest = (await client.get(f"{path}/digest", params={"period": "week"})).json()
        download = await client.get(f"{path}/digest.xlsx", params={"period": "week"})

    assert download.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert download.headers["content-disposition"] == (
        'attachment; filename="xep-hang-ldld-tp-bmt-week-2022-05-09.xlsx"'
    )
    book = load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == [
        "Xếp hạng",
        "Chậm tiến độ",
        "Chưa có sáng kiến",
        "Tồn đọng xét duyệt",
    ]
    ranking = list(book["Xếp hạng"].iter_rows(min_row=2, values_only=True))
    assert ranking[0][:4] == ("Hạng", "Thay đổi hạng", "Mã đơn vị", "Đơn vị")
    assert [(r[0], r[1], r[2], r[4], r[5], r[6]) for r in ranking[1:]] == [
        (u["rank"], "mới", u["union_id"], u["counted"], u["target"], u["percentage"])
        for u in digest["units"]
    ]
    assert [r[2] for r in ranking[1:]] == [HOSPITAL, SCHOOL, KINDERGARTEN]
    for sheet, field in (
        ("Chậm tiến độ", "laggards"),
        ("Chưa có sáng kiến", "no_initiative"),
        ("Tồn đọng xét duyệt", "review_backlog"),
    ):
        rows = list(book[sheet].iter_rows(min_row=3, values_only=True))
        assert [list(row) for row in rows] == [list(item.values()) for item in digest[field]]
    assert [u["union_id"] for u in digest["no_initiative"]] == [KINDERGARTEN]


async def test_sending_the_weeks_digest_twice_sends_it_once(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher, unique: str
) -> None:
    campaign_id = f"dak-lak-{unique}"
    async with notifier_client(settings, tmp_path, smtp_server, campaign_id) as client:
        first = await client.post(f"/campaigns/{campaign_id}/digests", params={"period": "week"})
        second = await client.post(f"/campaigns/{campaign_id}/digests", params={"period": "week"})
        await _until(lambda: len(weekly(smtp_server)) > 0, what="the weekly digest sent")
        log = (await client.get("/deliveries", params={"channel": "email"})).json()

    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["sent"] == ["ldld-dak-lak", "ldld-tp-bmt"]
    assert second.json()["sent"] == [] and second.json()["deliveries"] == 0
    assert second.json()["already_sent"] == ["ldld-dak-lak", "ldld-tp-bmt"]
    assert "already sent" in second.json()["message"]
    assert len([d for d in log if "bản tin tuần" in d["subject"]]) == 1
    assert [e.rcpt_tos for e in weekly(smtp_server)] == [[HEAD]]


def weekly(smtp: SmtpCatcher) -> list[ReceivedEmail]:
    return [e for e in smtp.emails if "bản tin tuần" in str(e.message["Subject"])]


async def _until(condition: Callable[[], bool], *, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {seconds} s")
        await asyncio.sleep(0.05)


async def test_a_grassroots_union_has_no_digest(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher, unique: str
) -> None:
    campaign_id = f"dak-lak-{unique}"
    async with notifier_client(settings, tmp_path, smtp_server, campaign_id) as client:
        refused = await client.get(f"/campaigns/{campaign_id}/units/{SCHOOL}/digest")

    assert refused.status_code == 422
    assert "unit_id" in refused.text
