"""The life of one alert, per (campaign, unit, rule): inactive, pending, firing, resolved.

Alertmanager's behaviour is the bar: an alert fires only after its condition has held for a
while (pending), is notified once when it fires, repeated every ``repeat_every`` while it
fires, notified once when it resolves; silenced or inhibited alerts keep their state but say
nothing. Two additions it lacks: a unit that flaps is not told again before ``min_refire_gap``
since its last notice, and a critical unit is escalated to its parent's head after
``escalate_after``. Pure: the caller stores the state and sends the notices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class AlertStatus(StrEnum):
    """Where an alert is in its life."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class NoticeKind(StrEnum):
    """What an evaluation tells a head about one alert."""

    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    ESCALATED = "escalated"  # to the parent's head: a child has been critical too long
    DEESCALATED = "deescalated"  # to the parent's head: that child is no longer critical


@dataclass(frozen=True)
class Policy:
    """Timings of the lifecycle, in the campaign's clock."""

    # One evaluation's dip (a withdrawal before its resubmission) is not worth a message.
    pending_for: timedelta = timedelta(hours=1)
    repeat_every: timedelta = timedelta(hours=24)
    min_refire_gap: timedelta = timedelta(hours=12)
    escalate_after: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class AlertState:
    """What is stored of one alert between evaluations."""

    status: AlertStatus = AlertStatus.INACTIVE
    since: datetime | None = None  # when the current status began
    fired_at: datetime | None = None  # when the current episode started firing
    notified_at: datetime | None = None  # the last firing or repeat notice, in any episode
    told: bool = False  # the head has heard that this episode fires
    escalated_at: datetime | None = None  # the last escalation notice of this episode


@dataclass(frozen=True)
class Step:
    """An alert's new state and what to send for it (nothing, one notice, or two)."""

    state: AlertState
    notices: tuple[NoticeKind, ...] = ()


def advance(
    state: AlertState,
    *,
    active: bool,
    now: datetime,
    policy: Policy,
    quiet: bool = False,
    escalates: bool = False,
) -> Step:
    """One evaluation of one alert: its condition is ``active`` at ``now``.

    ``quiet``: silenced or inhibited; the state moves on, nothing is said, and a firing that
    was never told is told once it is no longer quiet. ``escalates``: the rule escalates to the
    parent's head (critical pace does).
    """
    if not active:
        return _calm(state, now=now, quiet=quiet)
    if state.status in (AlertStatus.INACTIVE, AlertStatus.RESOLVED):
        state = AlertState(status=AlertStatus.PENDING, since=now, notified_at=state.notified_at)
    if state.status is AlertStatus.PENDING and _ready_to_fire(state, now, policy):
        state = replace(state, status=AlertStatus.FIRING, since=now, fired_at=now, told=False)
    if state.status is not AlertStatus.FIRING or quiet:
        return Step(state)
    return _firing(state, now=now, policy=policy, escalates=escalates)


def _ready_to_fire(state: AlertState, now: datetime, policy: Policy) -> bool:
    assert state.since is not None
    held = now - state.since >= policy.pending_for
    flapping = state.notified_at is not None and now - state.notified_at < policy.min_refire_gap
    return held and not flapping


def _firing(state: AlertState, *, now: datetime, policy: Policy, escalates: bool) -> Step:
    notices: list[NoticeKind] = []
    if not state.told:
        notices.append(NoticeKind.FIRING)
        state = replace(state, told=True, notified_at=now)
    elif state.notified_at is None or now - state.notified_at >= policy.repeat_every:
        notices.append(NoticeKind.REPEAT)
        state = replace(state, notified_at=now)
    assert state.fired_at is not None
    long_enough = now - state.fired_at >= policy.escalate_after
    due = state.escalated_at is None or now - state.escalated_at >= policy.repeat_every
    if escalates and long_enough and due:
        notices.append(NoticeKind.ESCALATED)
        state = replace(state, escalated_at=now)
    return Step(state, tuple(notices))


def _calm(state: AlertState, *, now: datetime, quiet: bool) -> Step:
    if state.status is AlertStatus.PENDING:
        return Step(AlertState(AlertStatus.INACTIVE, since=now, notified_at=state.notified_at))
    if state.status is not AlertStatus.FIRING:
        return Step(state)
    resolved = AlertState(AlertStatus.RESOLVED, since=now, notified_at=state.notified_at)
    if quiet:  # a silenced head asked to hear nothing of it
        return Step(resolved)
    # Told it fired, told it is over; the parent's head too, when it was escalated.
    told = (NoticeKind.RESOLVED,) if state.told else ()
    return Step(resolved, told + ((NoticeKind.DEESCALATED,) if state.escalated_at else ()))
