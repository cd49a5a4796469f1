"""The weekly and monthly digests: made for every upper-level and province head once per period
(the first evaluation after 07:00 on Monday or the 1st, or on demand), each stored with its
ranks and its deliveries in one transaction under the lease, so a digest is never sent twice,
across restarts and instances; and shown on demand, as of now, without storing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError

from services.notifier.adapters import digest_store, repository
from services.notifier.adapters.digest_render import render_email, webhook_payload
from services.notifier.adapters.tables import DeliveryRow
from services.notifier.domain.digest import (
    RECIPIENT_LEVELS,
    Digest,
    Period,
    PeriodKind,
    Ranked,
    build,
    due_period,
    period_containing,
    recipients,
)
from services.notifier.domain.registry import Registry, Unit
from services.notifier.domain.rules import Standing
from services.notifier.service import outbox
from services.notifier.service.evaluation import pace_and_summaries
from shared.database import Database
from shared.events import CampaignDefinedData
from shared.logging import get_logger
from shared.pace import campaign_bounds, local_date

log = get_logger(__name__)


class UnknownCampaign(LookupError):
    """No such campaign in the registry."""


class UnknownUnit(LookupError):
    """No such unit in the registry."""


class NotARecipient(ValueError):
    """The unit is not one whose head gets a digest (a grassroots union, the national one)."""


class NotStarted(ValueError):
    """The campaign has not begun: there is nothing to report yet."""


@dataclass
class DigestRound:
    """What one sending of a period's digests did."""

    campaign_id: str
    period: Period
    sent: list[str] = field(default_factory=list)  # recipients whose digest was made now
    already_sent: list[str] = field(default_factory=list)
    deliveries: int = 0


class DigestService:
    """Makes, stores and shows digests; writes only while this instance holds the lease."""

    def __init__(
        self,
        *,
        database: Database,
        redis: Redis,
        registry: Registry,
        lease_name: str,
        holder: str,
        backlog_limit_days: int,
    ) -> None:
        self.database = database
        self.redis = redis
        self.registry = registry
        self.lease_name, self.holder = lease_name, holder
        self.backlog_limit_days = backlog_limit_days
        # Periods whose every digest this process has seen stored: the hourly rounds of the
        # rest of the week skip them without a query.
        self._done: set[tuple[str, PeriodKind, date]] = set()

    async def preview(
        self, campaign_id: str, unit_id: str, kind: PeriodKind, at: datetime
    ) -> Digest:
        """The unit's digest of the period containing ``at``, as of ``at``; nothing stored."""
        campaign = self._campaign(campaign_id)
        recipient = self.registry.units.get(unit_id)
        if recipient is None:
            raise UnknownUnit(f"no unit {unit_id!r}")
        if recipient.level not in RECIPIENT_LEVELS:
            raise NotARecipient(
                f"unit_id: {unit_id!r} is a {recipient.level} union; digests are for "
                f"{' and '.join(sorted(RECIPIENT_LEVELS))} unions"
            )
        period = period_containing(kind, local_date(at, campaign.timezone))
        return await self._digest(campaign_id, campaign, recipient, period, at)

    async def send_due(self, at: datetime) -> list[DigestRound]:
        """Every digest of the running campaigns due at ``at`` and not stored yet (after each
        evaluation); raises LeaseLost without the lease."""
        rounds = []
        for campaign_id, campaign in list(self.registry.running(at)):
            for kind in PeriodKind:
                period = due_period(kind, campaign, at)
                if period is None or (campaign_id, kind, period.start) in self._done:
                    continue
                rounds.append(await self._send_period(campaign_id, campaign, period, at))
        return rounds

    async def send_now(self, campaign_id: str, kind: PeriodKind, at: datetime) -> DigestRound:
        """The current period's digest to every head that has not had it yet."""
        campaign = self._campaign(campaign_id)
        start, _ = campaign_bounds(campaign.starts_on, campaign.ends_on, campaign.timezone)
        if at < start:
            raise NotStarted(f"the campaign {campaign_id!r} starts on {campaign.starts_on}")
        period = period_containing(kind, local_date(at, campaign.timezone))
        return await self._send_period(campaign_id, campaign, period, at)

    async def _send_period(
        self, campaign_id: str, campaign: CampaignDefinedData, period: Period, at: datetime
    ) -> DigestRound:
        done = DigestRound(campaign_id, period)
        async with self.database.read_only() as session:
            stored = await digest_store.sent_to(session, campaign_id, period.kind, period.start)
        for recipient in recipients(self.registry, campaign_id):
            made = None
            if recipient.id not in stored:
                made = await self._send_one(campaign_id, campaign, recipient, period, at)
            if made is None:
                done.already_sent.append(recipient.id)
            else:
                done.sent.append(recipient.id)
                done.deliveries += made
        self._done.add((campaign_id, period.kind, period.start))
        if done.sent:
            log.info(
                "digest.sent",
                campaign_id=campaign_id,
                period=period.kind.value,
                period_start=period.start.isoformat(),
                recipients=len(done.sent),
                deliveries=done.deliveries,
            )
        return done

    async def _send_one(
        self,
        campaign_id: str,
        campaign: CampaignDefinedData,
        recipient: Unit,
        period: Period,
        at: datetime,
    ) -> int | None:
        """Store one head's digest with its deliveries; None when it was already stored."""
        # Counters are read before the transaction: SQLite's write lock is not held over Redis.
        digest = await self._digest(campaign_id, campaign, recipient, period, at)
        head_name = recipient.head.name if recipient.head else recipient.name
        deliveries = outbox.to_head(
            recipient,
            at=digest.at,
            campaign_id=digest.campaign_id,
            email=lambda delivery_id: render_email(
                digest, head_name=head_name, delivery_id=delivery_id
            ),
            webhook=lambda: webhook_payload(digest),
        )
        try:
            async with self.database.transaction() as session:
                await repository.hold_lease(
                    session, name=self.lease_name, holder=self.holder, now=outbox.real_now()
                )
                if await digest_store.is_sent(
                    session, campaign_id, recipient.id, period.kind, period.start
                ):
                    return None
                session.add(digest_store.digest_row(digest, created_at=outbox.real_now()))
                session.add_all([DeliveryRow(**row) for row in deliveries])
        except IntegrityError:
            # Another writer stored it between our check and our commit: its digest stands.
            return None
        return len(deliveries)

    async def _digest(
        self,
        campaign_id: str,
        campaign: CampaignDefinedData,
        recipient: Unit,
        period: Period,
        at: datetime,
    ) -> Digest:
        targets = self.registry.targets.get(campaign_id, {})
        children = [u for u in self.registry.children(recipient.id) if targets.get(u.id, 0) > 0]
        pace, counters = await pace_and_summaries(
            self.redis,
            campaign_id,
            campaign,
            [*(u.id for u in children), recipient.id],
            at=at,
            backlog_limit_days=self.backlog_limit_days,
        )
        async with self.database.read_only() as session:
            last = await digest_store.previous(
                session, campaign_id, recipient.id, period.kind, period.start
            )
        compared_with: date | None = None
        ranks: dict[str, Ranked] = {}
        if last is not None:
            compared_with, ranks = last
        own_target = targets.get(recipient.id, 0)

        def judged(unit: Unit, target: int) -> Standing:
            return pace.standing(
                unit_id=unit.id, name=unit.name, target=target, counters=counters[unit.id]
            )

        return build(
            campaign_id=campaign_id,
            campaign=campaign,
            recipient=recipient,
            period=period,
            at=at,
            units=[(judged(u, targets[u.id]), counters[u.id].registered) for u in children],
            previous=ranks,
            compared_with=compared_with,
            total=judged(recipient, own_target) if own_target > 0 else None,
            backlog_limit_days=self.backlog_limit_days,
        )

    def _campaign(self, campaign_id: str) -> CampaignDefinedData:
        campaign = self.registry.campaigns.get(campaign_id)
        if campaign is None:
            raise UnknownCampaign(f"no campaign {campaign_id!r}")
        return campaign
