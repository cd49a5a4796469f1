"""The notifier's evaluation and delivery against real Redis counters, a real SQLite database,
a real SMTP server, a real webhook receiver and the real Kafka alerts topic, on a fixed clock.

A small Đắk Lắk: the province, one district federation and two grassroots unions under it,
each with a head; the campaign of 27 April–31 May 2022 counting registered initiatives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from event_samples import ICT, dak_lak_campaign, target_event, union_event
from notifier_parts import LEASE, SECRET, NotifierParts, notifier_parts
from notifier_servers import SmtpCatcher, WebhookReceiver
from redis.asyncio import Redis
from sqlmodel import select

from services.notifier.adapters import repository
from services.notifier.adapters.tables import DeliveryRow, SilenceRow
from services.notifier.domain.lifecycle import AlertStatus
from services.notifier.domain.registry import Registry
from services.notifier.domain.signing import verify
from services.notifier.service.delivery import Dispatcher
from services.notifier.service.evaluation import Evaluator
from services.notifier.service.runner import NotifierRunner
from shared.clock import FixedClock
from shared.counters import CounterKeys
from shared.database import Database
from shared.events import AlertChannel, AlertRule, UnionHead, UnionLevel, decode
from shared.settings import CommonSettings, NotifierSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

NATIONAL, PROVINCE, DISTRICT = "tong-ldld", "ldld-dak-lak", "ldld-tp-bmt"
SCHOOL, HOSPITAL = "cdcs-thpt-bmt", "cdcs-bv-da-khoa"


@dataclass
class Notifier:
    """One notifier instance's evaluator and dispatcher, on the test's database."""

    evaluator: Evaluator
    dispatcher: Dispatcher
    database: Database
    holder: str

    async def take_lease(self, ttl: timedelta = timedelta(seconds=30)) -> bool:
        async with self.database.transaction() as session:
            return await repository.take_lease(
                session, name=LEASE, holder=self.holder, now=datetime.now(ICT), ttl=ttl
            )

    async def round(self, at: datetime) -> None:
        """One evaluation at ``at``, then every delivery it made sent."""
        assert await self.take_lease()
        await self.evaluator.evaluate(at)
        await self.dispatcher.dispatch_due()


@dataclass
class World:
    campaign_id: str
    parts: NotifierParts
    registry: Registry
    smtp: SmtpCatcher
    webhook: WebhookReceiver

    @property
    def redis(self) -> Redis:
        return self.parts.redis

    @property
    def database(self) -> Database:
        return self.parts.database

    @property
    def settings(self) -> CommonSettings:
        return self.parts.settings

    def notifier(self, holder: str = "instance-a") -> Notifier:
        evaluator, dispatcher = self.parts.instance(self.registry, self.smtp, holder=holder)
        return Notifier(evaluator, dispatcher, self.database, holder)

    async def count(self, unit_id: str, registered: int) -> None:
        """The unit's counter as scoring would leave it."""
        await self.redis.hset(CounterKeys(self.campaign_id).unit(unit_id), "registered", registered)

    def emails_to(self, address: str) -> list[str]:
        """The plain-text bodies the address received, in order."""
        return [
            email.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for email in self.smtp.emails
            if address in email.rcpt_tos
        ]


def head(name: str, email: str, webhook: str | None = None) -> UnionHead:
    channels = [AlertChannel.EMAIL] + ([AlertChannel.WEBHOOK] if webhook else [])
    return UnionHead(name=name, email=email, webhook_url=webhook, alert_channels=channels)


@pytest.fixture
async def world(
    settings: CommonSettings,
    unique: str,
    tmp_path: Path,
    smtp_server: SmtpCatcher,
    webhook_receiver: WebhookReceiver,
) -> AsyncIterator[World]:
    campaign_id = f"dak-lak-{unique}"
    registry = Registry()
    province = [NATIONAL, PROVINCE]
    district = [*province, DISTRICT]
    for event in (
        union_event([NATIONAL], UnionLevel.NATIONAL),
        union_event(province, UnionLevel.PROVINCE, head=head("Chủ tịch tỉnh", "tinh@dl.vn")),
        union_event(district, UnionLevel.UPPER_LEVEL, head=head("Chủ tịch TP", "tp@dl.vn")),
        union_event(
            [*district, SCHOOL],
            UnionLevel.GRASSROOTS,
            head=head("Hiệu trưởng", "thpt@dl.vn", webhook_receiver.url_answering(200)),
        ),
        union_event([*district, HOSPITAL], UnionLevel.GRASSROOTS, head=head("GĐ", "bv@dl.vn")),
        dak_lak_campaign(campaign_id, province),
        target_event(campaign_id, province, assigned=2500),
        target_event(campaign_id, district, assigned=100),
        target_event(campaign_id, [*district, SCHOOL], assigned=40),
        target_event(campaign_id, [*district, HOSPITAL], assigned=60),
    ):
        registry.apply(event)
    async with notifier_parts(settings, tmp_path) as parts:
        yield World(campaign_id, parts, registry, smtp_server, webhook_receiver)


def day(month: int, day_: int, hour: int = 8) -> datetime:
    return datetime(2022, month, day_, hour, tzinfo=ICT)


async def deliveries(world: World) -> list[DeliveryRow]:
    async with world.database.read_only() as session:
        return list(await session.exec(select(DeliveryRow)))


async def on_pace_except_school(world: World) -> None:
    """24 May, 80% of the campaign gone: the school has 12 of 40, the rest keep pace."""
    await world.count(SCHOOL, 12)
    await world.count(HOSPITAL, 55)
    await world.count(DISTRICT, 67)
    await world.count(PROVINCE, 2400)


async def test_a_lagging_school_head_gets_one_email_with_the_numbers_to_act_on(
    world: World,
) -> None:
    await on_pace_except_school(world)

    await world.notifier().round(day(5, 24))

    [body] = world.emails_to("thpt@dl.vn")
    assert (
        "Đơn vị cdcs-thpt-bmt: 12/40 sáng kiến (30%), chậm 20 so với tiến độ (mức nghiêm trọng); "
        "cần 4 sáng kiến mỗi ngày trong 8 ngày còn lại." in body
    )
    assert world.emails_to("bv@dl.vn") == []
    assert world.emails_to("tinh@dl.vn") == []


async def test_the_webhook_gets_the_same_alert_signed(world: World) -> None:
    await on_pace_except_school(world)

    await world.notifier().round(day(5, 24))

    [request] = world.webhook.requests
    assert verify(
        SECRET.encode(),
        request.body,
        request.headers["x-sangkien-timestamp"],
        request.headers["x-sangkien-signature"],
        now=int(datetime.now(ICT).timestamp()),
    )
    body = json.loads(request.body)
    assert body["recipient_union_id"] == SCHOOL
    assert [(n["union_id"], n["rule"], n["kind"]) for n in body["notices"]] == [
        (SCHOOL, "critical", "firing")
    ]


async def test_the_alerts_topic_carries_the_raised_alert(world: World) -> None:
    await on_pace_except_school(world)

    await world.notifier().round(day(5, 24))

    consumer = AIOKafkaConsumer(
        world.settings.topic_alerts,
        bootstrap_servers=world.settings.kafka_servers,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    events = [decode(record.value) for records in batches.values() for record in records]
    assert [(e.type, e.union_id, e.data.rule.value) for e in events] == [  # type: ignore[attr-defined]
        ("alert.lag_raised.v1", SCHOOL, "critical")
    ]


async def test_a_second_instance_taking_over_sends_nothing_twice(world: World) -> None:
    await on_pace_except_school(world)
    first = world.notifier("instance-a")
    await first.round(day(5, 24))
    # The first instance stops; its lease runs out; another takes over and evaluates again.
    assert await first.take_lease(ttl=timedelta(0))
    second = world.notifier("instance-b")

    await second.round(day(5, 24, 9))
    await second.round(day(5, 24, 20))

    assert len(world.emails_to("thpt@dl.vn")) == 1
    assert len(await deliveries(world)) == 3  # email, webhook, alert event: once each


async def test_an_instance_without_the_lease_writes_and_sends_nothing(world: World) -> None:
    await on_pace_except_school(world)
    assert await world.notifier("instance-a").take_lease()

    with pytest.raises(repository.LeaseLost):
        await world.notifier("instance-b").evaluator.evaluate(day(5, 24))

    assert await deliveries(world) == []


async def test_a_firing_alert_is_repeated_after_a_day_and_resolved_once_caught_up(
    world: World,
) -> None:
    await on_pace_except_school(world)
    notifier = world.notifier()
    await notifier.round(day(5, 24))
    await notifier.round(day(5, 24, 20))  # within the day: nothing new
    await notifier.round(day(5, 25, 9))  # a day on: the reminder

    await world.count(SCHOOL, 35)
    await notifier.round(day(5, 26))
    await notifier.round(day(5, 27))

    bodies = world.emails_to("thpt@dl.vn")
    assert len(bodies) == 3
    assert "Đã cải thiện" in bodies[2]
    assert "Đơn vị cdcs-thpt-bmt: đã ra khỏi mức nghiêm trọng, 35/40 sáng kiến" in bodies[2]


async def test_a_unit_critical_for_three_days_is_reported_to_its_parents_head(
    world: World,
) -> None:
    await on_pace_except_school(world)
    notifier = world.notifier()
    await notifier.round(day(5, 24))

    await notifier.round(day(5, 27, 9))

    [escalation] = world.emails_to("tp@dl.vn")
    assert "Đơn vị cdcs-thpt-bmt (đơn vị trực thuộc) ở mức nghiêm trọng kéo dài" in escalation


async def test_a_silenced_subtree_hears_nothing(world: World) -> None:
    await on_pace_except_school(world)
    async with world.database.transaction() as session:
        session.add(
            SilenceRow(
                id="s1",
                unit_id=DISTRICT,
                subtree=True,
                starts_at=day(5, 20),
                ends_at=day(5, 25),
                author="Chủ tịch TP",
                reason="Trường đang thi học kỳ",
                created_at=day(5, 20),
            )
        )

    await world.notifier().round(day(5, 24))

    assert world.smtp.emails == []
    assert world.webhook.requests == []
    # Silenced, not forgotten: the school's alert fires, untold until the silence ends.
    async with world.database.read_only() as session:
        states = await repository.alert_states(session, world.campaign_id)
    critical = states[SCHOOL][AlertRule.CRITICAL]
    assert (critical.status, critical.told) == (AlertStatus.FIRING, False)


async def test_a_dead_webhook_does_not_delay_the_email(world: World) -> None:
    await on_pace_except_school(world)
    school = world.registry.units[SCHOOL]
    hanging = head("Hiệu trưởng", "thpt@dl.vn", world.webhook.hanging_url)
    world.registry.units[SCHOOL] = school.__class__(**{**school.__dict__, "head": hanging})

    await world.notifier().round(day(5, 24))

    assert len(world.emails_to("thpt@dl.vn")) == 1
    [webhook] = [d for d in await deliveries(world) if d.channel == "webhook"]
    assert (webhook.status, webhook.attempts) == ("pending", 1)
    assert webhook.last_error is not None and webhook.next_attempt_at > datetime.now(ICT)


async def test_initiatives_waiting_over_a_week_raise_a_backlog_alert_to_the_unit_head(
    world: World,
) -> None:
    await on_pace_except_school(world)
    # The school is on pace (30 of 40) but 12 submitted on 10 May still wait for review.
    key = CounterKeys(world.campaign_id).unit(SCHOOL)
    await world.redis.hset(key, mapping={"registered": 30, "under_review": 12, "q:2022-05-10": 12})

    await world.notifier().round(day(5, 17))  # waiting 7 days: not yet
    await world.notifier().round(day(5, 18))  # waiting 8 days

    [body] = world.emails_to("thpt@dl.vn")
    assert "Đơn vị cdcs-thpt-bmt: 12 sáng kiến chờ duyệt quá 7 ngày, bằng 30% chỉ tiêu." in body


async def test_two_dispatch_rounds_at_once_send_each_email_once(world: World) -> None:
    await on_pace_except_school(world)
    notifier = world.notifier()
    assert await notifier.take_lease()
    await notifier.evaluator.evaluate(day(5, 24))

    await asyncio.gather(notifier.dispatcher.dispatch_due(), notifier.dispatcher.dispatch_due())

    assert len(world.emails_to("thpt@dl.vn")) == 1


async def test_the_active_instance_keeps_its_lease_between_rounds(world: World) -> None:
    evaluator, dispatcher = world.parts.instance(world.registry, world.smtp, holder="instance-a")
    ready = asyncio.Event()
    ready.set()
    runner = NotifierRunner(
        # A round every 10 s, a lease of 0.6 s: only the renewal beside the rounds keeps it.
        settings=NotifierSettings(notifier_lease_seconds=0.6, notifier_tick_seconds=10),
        database=world.database,
        evaluator=evaluator,
        dispatcher=dispatcher,
        clock=FixedClock(day(5, 24)),
        holder="instance-a",
        registry_ready=ready,
    )
    running = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(1.5)
        taken_by_another = await world.notifier("instance-b").take_lease()
    finally:
        await runner.stop()
        await running

    assert not taken_by_another
