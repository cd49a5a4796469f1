"""The source case replayed: Đắk Lắk's 40-day peak campaign (27 April–31 May 2022, 2,500
initiatives, 696 at launch), day by day on a simulated clock.

Submissions go through the real Kafka topic into the real scoring consumer and Redis; the
notifier evaluates every morning at 08:00 and sends through a real SMTP server and a real
webhook receiver. Four grassroots unions under two upper-level unions: two keep pace, the
school stalls and recovers, the hospital stalls for good. What every head was sent, on which
day, is checked against the pace model run beside it.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from event_samples import ICT, dak_lak_campaign, initiative_submitted, target_event, union_event
from notifier_parts import NotifierParts, notifier_parts
from notifier_servers import SmtpCatcher, WebhookReceiver
from redis.asyncio import Redis
from sqlmodel import select

from services.notifier.adapters import repository
from services.notifier.adapters.tables import DeliveryRow, SilenceRow
from services.notifier.domain.registry import Registry
from services.notifier.service.delivery import Dispatcher
from services.notifier.service.evaluation import Evaluator
from services.scoring.adapters.consumer import ScoringConsumer
from shared.counters import read_unit
from shared.database import Database
from shared.events import (
    AlertChannel,
    AnyEvent,
    UnionHead,
    UnionLevel,
    encode,
    partition_key,
)
from shared.pace import PaceStatus, assess
from shared.settings import CommonSettings, ScoringSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.slow]

START, END = date(2022, 4, 27), date(2022, 5, 31)
DAYS = (END - START).days + 1  # 35
NATIONAL, PROVINCE = "tong-ldld", "ldld-dak-lak"
CITY, EDUCATION = "ldld-tp-bmt", "cd-nganh-giao-duc"
SCHOOL, OFFICE, HOSPITAL, COLLEGE = "cdcs-thpt-bmt", "cdcs-ubnd-tp", "cdcs-bv-da-khoa", "cdcs-cd-sp"
PARENT = {SCHOOL: CITY, OFFICE: CITY, HOSPITAL: EDUCATION, COLLEGE: EDUCATION}
TARGETS = {SCHOOL: 700, OFFICE: 800, HOSPITAL: 600, COLLEGE: 400, CITY: 1500, EDUCATION: 1000}
AT_LAUNCH = {SCHOOL: 200, OFFICE: 250, HOSPITAL: 146, COLLEGE: 100}  # 696: 27.84% of 2,500
EMAIL = {
    PROVINCE: "tinh@dl.vn",
    CITY: "tp@dl.vn",
    EDUCATION: "giaoduc@dl.vn",
    SCHOOL: "thpt@dl.vn",
    OFFICE: "ubnd@dl.vn",
    HOSPITAL: "benhvien@dl.vn",
    COLLEGE: "cdsp@dl.vn",
}
# The school's head asked for quiet while the school is in exams: 14–16 May.
SILENCE = (datetime(2022, 5, 14, 0, tzinfo=ICT), datetime(2022, 5, 17, 0, tzinfo=ICT))
RESTART_DAY = 22  # the notifier instance is replaced after this day's round


def submissions_on(unit: str, day: int) -> int:
    """How many the unit registers on campaign day ``day`` (1 = 27 April)."""
    keep_pace = math.ceil((TARGETS[unit] - AT_LAUNCH[unit]) / DAYS)
    if unit in (OFFICE, COLLEGE):
        return keep_pace
    if unit == SCHOOL:  # keeps pace, stalls from day 6, catches up from day 25
        return keep_pace if day < 6 else 0 if day < 25 else 70 if day < 29 else keep_pace
    return 0  # the hospital never registers another one


def morning(day: int) -> datetime:
    return datetime.combine(START + timedelta(days=day - 1), time(8), ICT)


@dataclass
class Replay:
    campaign_id: str
    parts: NotifierParts
    registry: Registry
    smtp: SmtpCatcher
    published: int = 0
    # recipient email → the campaign days on which it received a message
    days_emailed: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    texts: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def redis(self) -> Redis:
        return self.parts.redis

    @property
    def database(self) -> Database:
        return self.parts.database

    def notifier(self, holder: str) -> tuple[Evaluator, Dispatcher]:
        # Nobody reviews in this replay: every initiative would soon wait too long, and the
        # backlog alert has tests of its own.
        return self.parts.instance(self.registry, self.smtp, holder=holder, backlog_limit_days=60)

    async def publish(self, events: list[AnyEvent]) -> None:
        for event in events:
            await self.parts.producer.send(
                self.parts.settings.topic_initiative_events,
                encode(event),
                key=partition_key(event),
            )
        await self.parts.producer.flush()
        self.published += len(events)

    async def counted_everything(self) -> None:
        """Until the scoring consumer has counted every published submission."""
        for _ in range(300):
            if (await read_unit(self.redis, self.campaign_id, PROVINCE)).registered == (
                self.published
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"scoring did not count {self.published} submissions in 15 s")

    async def round_lease(self, holder: str, ttl: timedelta) -> None:
        """Take or renew the lease for ``ttl`` (0: let it go)."""
        async with self.database.transaction() as session:
            assert await repository.take_lease(
                session, name="notifier", holder=holder, now=datetime.now(ICT), ttl=ttl
            )

    async def round(self, day: int, holder: str, lease_ttl: timedelta) -> None:
        """The morning of ``day``: evaluate, send, and note who got an email."""
        before = len(self.smtp.emails)
        evaluator, dispatcher = self.notifier(holder)
        await self.round_lease(holder, lease_ttl)
        await evaluator.evaluate(morning(day))
        await dispatcher.dispatch_due()
        for email in self.smtp.emails[before:]:
            for address in email.rcpt_tos:
                self.days_emailed[address].append(day)
                body = email.message.get_body(("plain",))
                self.texts[(address, day)] = body.get_content()  # type: ignore[union-attr]


def registry_events(campaign_id: str, webhook_url: str) -> list[AnyEvent]:
    def head(unit: str) -> UnionHead:
        channels = [AlertChannel.EMAIL]
        webhook = None
        if unit == HOSPITAL:  # its webhook never answers in time
            channels.append(AlertChannel.WEBHOOK)
            webhook = webhook_url
        return UnionHead(
            name=f"Chủ tịch {unit}",
            email=EMAIL[unit],
            webhook_url=webhook,
            alert_channels=channels,
        )

    province = [NATIONAL, PROVINCE]
    events: list[AnyEvent] = [
        union_event([NATIONAL], UnionLevel.NATIONAL),
        union_event(province, UnionLevel.PROVINCE, head=head(PROVINCE)),
        dak_lak_campaign(campaign_id, province),
        target_event(campaign_id, province, assigned=2500),
    ]
    for upper in (CITY, EDUCATION):
        events.append(union_event([*province, upper], UnionLevel.UPPER_LEVEL, head=head(upper)))
        events.append(target_event(campaign_id, [*province, upper], assigned=TARGETS[upper]))
    for unit, parent in PARENT.items():
        path = [*province, parent, unit]
        events.append(union_event(path, UnionLevel.GRASSROOTS, head=head(unit)))
        events.append(target_event(campaign_id, path, assigned=TARGETS[unit]))
    return events


def submitted(campaign_id: str, unit: str, number: int, at: datetime) -> AnyEvent:
    sample = initiative_submitted()
    data = sample.data.model_copy(
        update={"initiative_id": UUID(int=number + 1), "application_date": at.date()}
    )
    return sample.model_copy(
        update={
            "event_id": UUID(int=10**9 + number),
            "occurred_at": at,
            "campaign_id": campaign_id,
            "union_id": unit,
            "union_path": [NATIONAL, PROVINCE, PARENT[unit], unit],
            "data": data,
        }
    )


@pytest.fixture
async def replay(
    settings: CommonSettings,
    unique: str,
    tmp_path: Path,
    smtp_server: SmtpCatcher,
    webhook_receiver: WebhookReceiver,
) -> AsyncIterator[Replay]:
    campaign_id = f"dak-lak-{unique}"
    registry = Registry()
    for event in registry_events(campaign_id, webhook_receiver.hanging_url):
        registry.apply(event)
    async with notifier_parts(settings, tmp_path) as parts:
        scoring = ScoringConsumer(
            ScoringSettings(**settings.model_dump(), scoring_consumer_group=f"scoring-{unique}"),
            parts.redis,
        )
        consuming = asyncio.create_task(scoring.run())
        try:
            yield Replay(campaign_id, parts, registry, smtp_server)
        finally:
            await scoring.stop()
            await asyncio.gather(consuming, return_exceptions=True)


def reference_lagging(unit: str, counts: dict[str, list[int]]) -> list[int]:
    """Campaign days on whose morning the pace model says the unit lags (behind or worse)."""
    lagging = []
    for day in range(1, DAYS + 1):
        report = assess(
            counts[unit][day - 1],
            TARGETS.get(unit, 2500),
            at=morning(day),
            starts_on=START,
            ends_on=END,
            timezone="Asia/Ho_Chi_Minh",
        )
        if report.lagging:
            lagging.append(day)
    return lagging


def reference_emails(unit: str, counts: dict[str, list[int]]) -> list[int]:
    """The days a head hears about its own unit: every lagging morning (fired, then repeated
    every 24 h) and the morning after each lagging run (resolved)."""
    lagging = reference_lagging(unit, counts)
    recovered = [d + 1 for d in lagging if d + 1 not in lagging and d + 1 <= DAYS]
    return sorted(lagging + recovered)


def reference_critical(unit: str, counts: dict[str, list[int]]) -> list[int]:
    """Campaign days on whose morning the pace model says the unit is critical."""
    return [
        day
        for day in range(1, DAYS + 1)
        if assess(
            counts[unit][day - 1],
            TARGETS[unit],
            at=morning(day),
            starts_on=START,
            ends_on=END,
            timezone="Asia/Ho_Chi_Minh",
        ).status
        is PaceStatus.CRITICAL
        and day > 3  # grace: the first 10% of 35 days ends on day 4 at 12:00
    ]


async def test_the_source_case_replayed_day_by_day(replay: Replay) -> None:
    number = 0
    launch = datetime(2022, 4, 26, 20, tzinfo=ICT)
    stock = []
    for unit, count in AT_LAUNCH.items():
        for _ in range(count):
            stock.append(submitted(replay.campaign_id, unit, number, launch))
            number += 1
    await replay.publish(stock)
    async with replay.database.transaction() as session:
        session.add(
            SilenceRow(
                id="thi-hoc-ky",
                unit_id=SCHOOL,
                subtree=False,
                starts_at=SILENCE[0],
                ends_at=SILENCE[1],
                author="Chủ tịch LĐLĐ TP",
                reason="Trường thi học kỳ",
                created_at=SILENCE[0],
            )
        )
    # What each unit had counted on each morning, as the test's own arithmetic says.
    counts: dict[str, list[int]] = defaultdict(list)
    totals = dict(AT_LAUNCH)
    holder = "instance-a"
    for day in range(1, DAYS + 1):
        await replay.counted_everything()
        for unit in PARENT:
            counts[unit].append(totals[unit])
        for upper in (CITY, EDUCATION):
            counts[upper].append(sum(totals[u] for u, p in PARENT.items() if p == upper))
        counts[PROVINCE].append(sum(totals.values()))
        await replay.round(day, holder, timedelta(seconds=60))
        if day == RESTART_DAY:  # instance a stops; its lease runs out; instance b takes over
            await replay.round_lease(holder, timedelta(0))
            holder = "instance-b"
        evening = datetime.combine(START + timedelta(days=day - 1), time(17), ICT)
        events = []
        for unit in PARENT:
            for _ in range(submissions_on(unit, day)):
                events.append(submitted(replay.campaign_id, unit, number, evening))
                number += 1
            totals[unit] += submissions_on(unit, day)
        await replay.publish(events)

    emailed = replay.days_emailed
    # The units that keep pace hear nothing; the others exactly on the days the pace model
    # says they lag, and the morning after they catch up. The hospital never catches up: told
    # every morning (firing, then repeated every 24 h), never twice a day, across the restart
    # too, and its dead webhook held back none of it.
    assert emailed[EMAIL[OFFICE]] == emailed[EMAIL[COLLEGE]] == []
    for unit in (PROVINCE, CITY, HOSPITAL):
        assert emailed[EMAIL[unit]] == reference_emails(unit, counts), unit
    assert reference_lagging(HOSPITAL, counts), "the hospital should fall behind"
    # The school: silent during its silence, told once it lifts, and told when it caught up.
    school_days = reference_emails(SCHOOL, counts)
    silenced_days = [d for d in school_days if SILENCE[0] <= morning(d) < SILENCE[1]]
    assert silenced_days, "the silence should cover some of the school's lagging days"
    assert emailed[EMAIL[SCHOOL]] == [d for d in school_days if d not in silenced_days]
    assert "đã bắt kịp tiến độ" in replay.texts[(EMAIL[SCHOOL], school_days[-1])]
    # Education's head: one message a morning for its own lag and, from three days after the
    # hospital turned critical, the hospital's escalation in the same message.
    critical = reference_critical(HOSPITAL, counts)
    first_escalation = critical[0] + 3
    education_days = sorted(
        set(reference_emails(EDUCATION, counts)) | {d for d in critical if d >= first_escalation}
    )
    assert emailed[EMAIL[EDUCATION]] == education_days
    escalated = replay.texts[(EMAIL[EDUCATION], first_escalation)]
    assert "(đơn vị trực thuộc) ở mức nghiêm trọng kéo dài" in escalated
    # Nothing sent twice: one delivery per message, and every email and event went out.
    async with replay.database.read_only() as session:
        rows = list(await session.exec(select(DeliveryRow)))
    by_channel = defaultdict(list)
    for row in rows:
        by_channel[row.channel].append(row)
    assert len(by_channel["email"]) == len(replay.smtp.emails)
    assert all(row.status == "sent" for row in by_channel["email"] + by_channel["kafka"])
    assert all(row.status == "pending" for row in by_channel["webhook"])
