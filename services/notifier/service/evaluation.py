"""One evaluation: every unit with a target in every running campaign, read from the counters,
judged by the pace model, moved through its alerts' lifecycle; the notices it makes are grouped
per head and stored as deliveries in the same transaction as the alert state (an outbox), so a
crash neither loses nor repeats them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifier.adapters import repository
from services.notifier.adapters.render import alert_event, render_email, webhook_payload
from services.notifier.adapters.tables import AlertChangeRow, AlertRow, DeliveryRow
from services.notifier.domain.grouping import Message, Notice, group, recipient_of
from services.notifier.domain.lifecycle import AlertStatus, Policy, advance
from services.notifier.domain.registry import Registry, Unit
from services.notifier.domain.rules import RULE_ORDER, Standing, active_rules, standing
from services.notifier.domain.silences import SilenceRule, silenced
from shared.counters import read_units
from shared.database import Database
from shared.events import AlertChannel, AlertRule, CampaignDefinedData, encode
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class Evaluation:
    """What one evaluation did."""

    at: datetime
    campaigns: int = 0
    units: int = 0
    changes: int = 0  # alert status changes
    messages: int = 0  # grouped messages, one per head and campaign
    deliveries: int = 0  # messages times the head's channels, plus alert events
    firing: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)  # firing alerts per rule


@dataclass
class _Outcome:
    """One campaign's evaluation, before it is stored."""

    notices: list[Notice] = field(default_factory=list)
    fired_at: dict[tuple[str, AlertRule], datetime | None] = field(default_factory=dict)
    changes: list[AlertChangeRow] = field(default_factory=list)


class Evaluator:
    """Evaluates every running campaign; writes only while this instance holds the lease."""

    def __init__(
        self,
        *,
        database: Database,
        redis: Redis,
        registry: Registry,
        policy: Policy,
        lease_name: str,
        holder: str,
        alerts_topic: str,
        backlog_limit_days: int,
    ) -> None:
        self.database = database
        self.redis = redis
        self.registry = registry
        self.policy = policy
        self.lease_name, self.holder = lease_name, holder
        self.alerts_topic = alerts_topic
        self.backlog_limit_days = backlog_limit_days

    async def evaluate(self, at: datetime) -> Evaluation:
        """Evaluate at ``at`` (the campaign clock's now); raises LeaseLost without the lease."""
        summary = Evaluation(at=at)
        async with self.database.read_only() as session:
            silences = await repository.active_silences(session, at)
        for campaign_id, campaign in list(self.registry.running(at)):
            units = self.registry.units_with_targets(campaign_id)
            counters = await read_units(self.redis, campaign_id, [unit.id for unit, _ in units])
            async with self.database.transaction() as session:
                await repository.hold_lease(
                    session, name=self.lease_name, holder=self.holder, now=_real_now()
                )
                rows = await repository.alert_rows(session, campaign_id)
                standings = [
                    standing(
                        campaign_id=campaign_id,
                        campaign=campaign,
                        unit_id=unit.id,
                        name=unit.name,
                        target=target,
                        counters=counters[unit.id],
                        at=at,
                        backlog_limit_days=self.backlog_limit_days,
                    )
                    for unit, target in units
                ]
                outcome = self._advance(session, rows, standings, silences, at)
                session.add_all(outcome.changes)
                messages = group(outcome.notices)
                deliveries = self._deliveries(messages, outcome, campaign, at)
                session.add_all(deliveries)
            summary.campaigns += 1
            summary.units += len(units)
            summary.changes += len(outcome.changes)
            summary.messages += len(messages)
            summary.deliveries += len(deliveries)
            for row in rows.values():
                if row.status == AlertStatus.FIRING:
                    summary.firing += 1
                    summary.by_rule[row.rule] = summary.by_rule.get(row.rule, 0) + 1
        log.info(
            "evaluation.done",
            at=at.isoformat(),
            campaigns=summary.campaigns,
            units=summary.units,
            changes=summary.changes,
            messages=summary.messages,
        )
        return summary

    def _advance(
        self,
        session: AsyncSession,
        rows: dict[tuple[str, str], AlertRow],
        standings: list[Standing],
        silences: list[SilenceRule],
        at: datetime,
    ) -> _Outcome:
        outcome = _Outcome()
        for unit in standings:
            active = active_rules(unit)
            entry = self.registry.units[unit.unit_id]
            critical_firing = False
            for rule in RULE_ORDER:
                row = rows.get((unit.unit_id, rule.value))
                if row is None and not active[rule]:
                    continue  # never active, still not: nothing to store (most units)
                state = repository.state_of(row)
                # A critical unit's BEHIND says nothing: the head reads the worse news once.
                quiet = (rule is AlertRule.BEHIND and critical_firing) or silenced(
                    silences, campaign_id=unit.campaign_id, unit_path=entry.path, rule=rule, now=at
                )
                step = advance(
                    state,
                    active=active[rule],
                    now=at,
                    policy=self.policy,
                    quiet=quiet,
                    escalates=rule is AlertRule.CRITICAL,
                )
                if rule is AlertRule.CRITICAL:
                    critical_firing = step.state.status is AlertStatus.FIRING
                if step.state == state:
                    continue
                if row is None:
                    row = AlertRow(
                        campaign_id=unit.campaign_id, unit_id=unit.unit_id, rule=rule.value
                    )
                    rows[(unit.unit_id, rule.value)] = row
                    session.add(row)
                repository.store_state(row, step.state)
                row.counted, row.target, row.expected = unit.counted, unit.target, unit.expected
                row.updated_at = at
                if step.state.status is not state.status:
                    outcome.changes.append(_change(unit, rule, step.state.status, at))
                for kind in step.notices:
                    recipient = recipient_of(unit.unit_id, entry.parent_id, kind)
                    if recipient is not None:
                        notice = Notice(recipient, rule, kind, unit)
                        outcome.notices.append(notice)
                        outcome.fired_at[(unit.unit_id, rule)] = (
                            step.state.fired_at or state.fired_at
                        )
        return outcome

    def _deliveries(
        self,
        messages: list[Message],
        outcome: _Outcome,
        campaign: CampaignDefinedData,
        at: datetime,
    ) -> list[DeliveryRow]:
        deliveries = []
        for message in messages:
            recipient = self.registry.units.get(message.recipient_id)
            if recipient is None:
                continue
            deliveries += self._to_head(message, recipient, campaign, at)
        for notice in outcome.notices:
            unit = self.registry.units[notice.unit.unit_id]
            fired_at = outcome.fired_at.get((unit.id, notice.rule))
            event = alert_event(notice, unit=unit, fired_at=fired_at, at=at)
            if event is None:
                continue
            deliveries.append(
                _delivery(
                    at,
                    notice.unit.campaign_id,
                    notice.recipient_id,
                    AlertChannel.KAFKA,
                    self.alerts_topic,
                    subject=event.type,
                    text=notice.kind.value,
                    payload=encode(event).decode(),
                    delivery_id=str(event.event_id),
                )
            )
        return deliveries

    def _to_head(
        self, message: Message, recipient: Unit, campaign: CampaignDefinedData, at: datetime
    ) -> list[DeliveryRow]:
        head = recipient.head
        if head is None:
            log.warning("evaluation.no_head", union_id=recipient.id)
            return []
        rows = []
        if AlertChannel.EMAIL in head.alert_channels and head.email:
            delivery_id = str(uuid.uuid4())
            email = render_email(
                message, recipient=recipient, campaign=campaign, at=at, delivery_id=delivery_id
            )
            rows.append(
                _delivery(
                    at,
                    message.campaign_id,
                    recipient.id,
                    AlertChannel.EMAIL,
                    str(head.email),
                    subject=email.subject,
                    text=email.text,
                    html=email.html,
                    delivery_id=delivery_id,
                )
            )
        if AlertChannel.WEBHOOK in head.alert_channels and head.webhook_url:
            payload = webhook_payload(message, recipient=recipient, campaign=campaign, at=at)
            rows.append(
                _delivery(
                    at,
                    message.campaign_id,
                    recipient.id,
                    AlertChannel.WEBHOOK,
                    str(head.webhook_url),
                    subject=payload["subject"],
                    text="",
                    payload=json.dumps(payload, ensure_ascii=False),
                )
            )
        return rows


def _change(unit: Standing, rule: AlertRule, status: AlertStatus, at: datetime) -> AlertChangeRow:
    return AlertChangeRow(
        campaign_id=unit.campaign_id,
        unit_id=unit.unit_id,
        rule=rule.value,
        status=status.value,
        at=at,
        counted=unit.counted,
        target=unit.target,
        expected=unit.expected,
    )


def _delivery(
    at: datetime,
    campaign_id: str,
    recipient_id: str,
    channel: AlertChannel,
    destination: str,
    *,
    subject: str,
    text: str,
    html: str | None = None,
    payload: str = "{}",
    delivery_id: str | None = None,
) -> DeliveryRow:
    now = _real_now()
    return DeliveryRow(
        id=delivery_id or str(uuid.uuid4()),
        created_at=now,
        evaluated_at=at,
        campaign_id=campaign_id,
        recipient_union_id=recipient_id,
        channel=channel.value,
        destination=destination,
        subject=subject,
        body_text=text,
        body_html=html,
        payload=payload,
        next_attempt_at=now,
    )


def _real_now() -> datetime:
    # Leases and retries live in real time: they are about processes and endpoints, not about
    # the campaign's (possibly simulated) calendar.
    return datetime.now(tz=UTC)
