"""One evaluation: every unit with a target in every running campaign, read from the counters,
judged by the pace model, moved through its alerts' lifecycle; the notices it makes are grouped
per head and stored as deliveries in the same transaction as the alert state (an outbox), so a
crash neither loses nor repeats them."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from services.notifier.adapters import repository
from services.notifier.adapters.render import alert_event, render_email, webhook_payload
from services.notifier.domain.grouping import Message, Notice, group, recipient_of
from services.notifier.domain.lifecycle import AlertState, AlertStatus, Policy, advance
from services.notifier.domain.registry import Registry, Unit
from services.notifier.domain.rules import RULE_ORDER, CampaignPace, Standing, active_rules
from services.notifier.domain.silences import SilenceRule
from services.notifier.service import outbox
from shared.counters import UnitSummary, read_summaries
from shared.database import Database
from shared.events import AlertChannel, AlertRule, CampaignDefinedData, encode
from shared.logging import get_logger

log = get_logger(__name__)

_FRESH = AlertState()  # an alert never stored: inactive


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
    """One campaign's evaluation, before it is stored: rows as plain values, written in one
    executemany a table."""

    notices: list[Notice] = field(default_factory=list)
    fired_at: dict[tuple[str, AlertRule], datetime | None] = field(default_factory=dict)
    new_alerts: list[dict[str, Any]] = field(default_factory=list)
    changed_alerts: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


class _Silences:
    """The silences in force at one instant, by the unit they name: a unit asks only those
    named on its path, not every silence (3 rules × 150,000 units × every silence)."""

    def __init__(self, silences: Sequence[SilenceRule], at: datetime) -> None:
        self.by_unit: dict[str, list[SilenceRule]] = {}
        for silence in silences:
            if silence.active(at):
                self.by_unit.setdefault(silence.unit_id, []).append(silence)

    def cover(self, campaign_id: str, unit_path: Sequence[str], rule: AlertRule) -> bool:
        """Whether a silence covers this alert (as ``silenced`` says: a silence covers only
        a unit on whose path it is named)."""
        if not self.by_unit:
            return False
        return any(
            silence.covers(campaign_id, unit_path, rule)
            for unit_id in unit_path
            for silence in self.by_unit.get(unit_id, ())
        )


async def pace_and_summaries(
    redis: Redis,
    campaign_id: str,
    campaign: CampaignDefinedData,
    unit_ids: Sequence[str],
    *,
    at: datetime,
    backlog_limit_days: int,
) -> tuple[CampaignPace, dict[str, UnitSummary]]:
    """The campaign's pace at ``at`` (computed once, not once a unit) and each unit's four
    numbers, its backlog counted from the pace's cutoff: what an evaluation or a digest judges."""
    pace = CampaignPace.at(
        campaign_id=campaign_id, campaign=campaign, at=at, backlog_limit_days=backlog_limit_days
    )
    counters = await read_summaries(
        redis, campaign_id, unit_ids, waiting_before=pace.backlog_cutoff
    )
    return pace, counters


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
        with _collector_paused():
            return await self._evaluate(at)

    async def _evaluate(self, at: datetime) -> Evaluation:
        summary = Evaluation(at=at)
        async with self.database.read_only() as session:
            silences = _Silences(await repository.active_silences(session, at), at)
        for campaign_id, campaign in list(self.registry.running(at)):
            units = self.registry.units_with_targets(campaign_id)
            pace, counters = await pace_and_summaries(
                self.redis,
                campaign_id,
                campaign,
                [unit.id for unit, _ in units],
                at=at,
                backlog_limit_days=self.backlog_limit_days,
            )
            # Judged outside the write transaction: SQLite holds its write lock from BEGIN,
            # and a silence or a digest written meanwhile would wait for the whole evaluation.
            # Only the lease holder writes alert state, and one evaluation runs at a time, so
            # what is read here is still true when it is written below.
            async with self.database.read_only() as session:
                states = await repository.alert_states(session, campaign_id)
            outcome = self._advance(pace, units, counters, states, silences, at)
            messages = group(outcome.notices)
            deliveries = self._deliveries(messages, outcome, campaign, at)
            async with self.database.transaction() as session:
                await repository.hold_lease(
                    session, name=self.lease_name, holder=self.holder, now=outbox.real_now()
                )
                await repository.store_evaluation(
                    session,
                    new_alerts=outcome.new_alerts,
                    changed_alerts=outcome.changed_alerts,
                    changes=outcome.changes,
                    deliveries=deliveries,
                )
            summary.campaigns += 1
            summary.units += len(units)
            summary.changes += len(outcome.changes)
            summary.messages += len(messages)
            summary.deliveries += len(deliveries)
            for by_rule in states.values():
                for rule, state in by_rule.items():
                    if state.status is AlertStatus.FIRING:
                        summary.firing += 1
                        summary.by_rule[rule.value] = summary.by_rule.get(rule.value, 0) + 1
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
        pace: CampaignPace,
        units: list[tuple[Unit, int]],
        counters: dict[str, UnitSummary],
        states: dict[str, dict[AlertRule, AlertState]],
        silences: _Silences,
        at: datetime,
    ) -> _Outcome:
        """Move every unit's alerts on; ``states`` ends holding the new states."""
        outcome = _Outcome()
        for entry, target in units:
            unit = pace.standing(
                unit_id=entry.id, name=entry.name, target=target, counters=counters[entry.id]
            )
            active = active_rules(unit)
            stored = states.get(entry.id)
            if stored is None:
                if not any(active.values()):
                    continue  # never active, still not: nothing to store (most units)
                stored = states[entry.id] = {}
            self._advance_unit(outcome, entry, unit, active, stored, silences, at)
        return outcome

    def _advance_unit(
        self,
        outcome: _Outcome,
        entry: Unit,
        unit: Standing,
        active: dict[AlertRule, bool],
        stored: dict[AlertRule, AlertState],
        silences: _Silences,
        at: datetime,
    ) -> None:
        critical_firing = False
        for rule in RULE_ORDER:
            state = stored.get(rule)
            if state is None and not active[rule]:
                continue
            before = _FRESH if state is None else state
            # A critical unit's BEHIND says nothing: the head reads the worse news once.
            quiet = (rule is AlertRule.BEHIND and critical_firing) or silences.cover(
                unit.campaign_id, entry.path, rule
            )
            step = advance(
                before,
                active=active[rule],
                now=at,
                policy=self.policy,
                quiet=quiet,
                escalates=rule is AlertRule.CRITICAL,
            )
            if rule is AlertRule.CRITICAL:
                critical_firing = step.state.status is AlertStatus.FIRING
            if step.state == before:
                continue
            stored[rule] = step.state
            _record(outcome, unit, rule, before, step.state, new=state is None, at=at)
            for kind in step.notices:
                recipient = recipient_of(unit.unit_id, entry.parent_id, kind)
                if recipient is not None:
                    outcome.notices.append(Notice(recipient, rule, kind, unit))
                    outcome.fired_at[(unit.unit_id, rule)] = step.state.fired_at or before.fired_at

    def _deliveries(
        self,
        messages: list[Message],
        outcome: _Outcome,
        campaign: CampaignDefinedData,
        at: datetime,
    ) -> list[dict[str, Any]]:
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
                outbox.pending(
                    at=at,
                    campaign_id=notice.unit.campaign_id,
                    recipient_id=notice.recipient_id,
                    channel=AlertChannel.KAFKA,
                    destination=self.alerts_topic,
                    subject=event.type,
                    text=notice.kind.value,
                    payload=encode(event).decode(),
                    delivery_id=str(event.event_id),
                )
            )
        return deliveries

    def _to_head(
        self, message: Message, recipient: Unit, campaign: CampaignDefinedData, at: datetime
    ) -> list[dict[str, Any]]:
        return outbox.to_head(
            recipient,
            at=at,
            campaign_id=message.campaign_id,
            email=lambda delivery_id: render_email(
                message, recipient=recipient, campaign=campaign, at=at, delivery_id=delivery_id
            ),
            webhook=lambda: webhook_payload(message, recipient=recipient, campaign=campaign, at=at),
        )


def _record(
    outcome: _Outcome,
    unit: Standing,
    rule: AlertRule,
    before: AlertState,
    after: AlertState,
    *,
    new: bool,
    at: datetime,
) -> None:
    """The alert's row to insert or update, and its history when its status changed."""
    values = repository.alert_values(
        campaign_id=unit.campaign_id,
        unit_id=unit.unit_id,
        rule=rule,
        state=after,
        counted=unit.counted,
        target=unit.target,
        expected=unit.expected,
        at=at,
    )
    (outcome.new_alerts if new else outcome.changed_alerts).append(values)
    if after.status is not before.status:
        outcome.changes.append(_change(unit, rule, after.status, at))


def _change(unit: Standing, rule: AlertRule, status: AlertStatus, at: datetime) -> dict[str, Any]:
    """A row of the alert's history."""
    return {
        "campaign_id": unit.campaign_id,
        "unit_id": unit.unit_id,
        "rule": rule.value,
        "status": status.value,
        "at": at,
        "counted": unit.counted,
        "target": unit.target,
        "expected": unit.expected,
    }


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while an evaluation runs: for a country it holds
    about a million containers (every unit's counters, standings, alert states) beside the
    registry, so each full collection walked them all for about 0.9 s, three to five times an
    evaluation, to free almost nothing (bench/notifier.py). Collection resumes after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
