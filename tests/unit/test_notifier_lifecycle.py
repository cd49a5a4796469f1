"""The life of one alert: inactive, pending, firing, resolved; repeats, flapping, quiet,
escalation. Default policy: pending 1 h, repeat 24 h, refire gap 12 h, escalation after 3 days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.lifecycle import (
    AlertState,
    AlertStatus,
    NoticeKind,
    Policy,
    Step,
    advance,
)

ICT = timezone(timedelta(hours=7))
T0 = datetime(2022, 5, 2, 8, tzinfo=ICT)  # a morning evaluation in the Đắk Lắk campaign
POLICY = Policy()
H = timedelta(hours=1)
FIRING, REPEAT, RESOLVED = NoticeKind.FIRING, NoticeKind.REPEAT, NoticeKind.RESOLVED
ESCALATED, DEESCALATED = NoticeKind.ESCALATED, NoticeKind.DEESCALATED


def step(
    state: AlertState,
    hours: float,
    *,
    active: bool = True,
    quiet: bool = False,
    escalates: bool = False,
) -> Step:
    """One evaluation ``hours`` after T0 with the default policy."""
    now = T0 + timedelta(hours=hours)
    return advance(state, active=active, now=now, policy=POLICY, quiet=quiet, escalates=escalates)


def firing(*, told_at: float = 1, escalates: bool = False) -> AlertState:
    """An alert active since T0 that fired and was told ``told_at`` hours after T0."""
    pending = step(AlertState(), told_at - 1, escalates=escalates).state
    return step(pending, told_at, escalates=escalates).state


def test_an_alert_whose_condition_starts_to_hold_is_pending_and_says_nothing() -> None:
    result = step(AlertState(), 0)

    assert result.state.status is AlertStatus.PENDING
    assert result.state.since == T0
    assert result.notices == ()


def test_a_pending_alert_does_not_fire_before_pending_for() -> None:
    pending = step(AlertState(), 0).state

    result = step(pending, 0.5)

    assert result.state.status is AlertStatus.PENDING
    assert result.notices == ()


def test_a_pending_alert_fires_once_its_condition_has_held_for_pending_for() -> None:
    pending = step(AlertState(), 0).state

    result = step(pending, 1)

    assert result.state.status is AlertStatus.FIRING
    assert result.state.fired_at == T0 + H
    assert result.state.told
    assert result.notices == (FIRING,)


def test_a_pending_alert_whose_condition_lapses_goes_back_to_inactive_silently() -> None:
    pending = step(AlertState(), 0).state

    result = step(pending, 0.5, active=False)

    assert result.state.status is AlertStatus.INACTIVE
    assert result.notices == ()


def test_a_dip_of_one_evaluation_starts_the_pending_time_again() -> None:
    pending = step(AlertState(), 0).state
    inactive = step(pending, 0.5, active=False).state
    pending_again = step(inactive, 0.75).state

    assert step(pending_again, 1.5).notices == ()
    assert step(pending_again, 1.75).notices == (FIRING,)


def test_a_firing_alert_says_nothing_before_the_repeat_interval() -> None:
    result = step(firing(), 24.5)

    assert result.state.status is AlertStatus.FIRING
    assert result.notices == ()


def test_firing_is_repeated_after_the_repeat_interval() -> None:
    result = step(firing(), 25)

    assert result.notices == (REPEAT,)
    assert result.state.notified_at == T0 + 25 * H


def test_repeats_are_counted_from_the_last_notice() -> None:
    repeated = step(firing(), 30).state  # late evaluation: repeated 29 h after the firing

    assert step(repeated, 53).notices == ()
    assert step(repeated, 54).notices == (REPEAT,)


def test_a_told_firing_alert_is_resolved_once() -> None:
    resolved = step(firing(), 5, active=False)

    assert resolved.state.status is AlertStatus.RESOLVED
    assert resolved.notices == (RESOLVED,)
    assert step(resolved.state, 6, active=False).notices == ()


def test_a_resolved_alert_keeps_when_it_was_last_notified() -> None:
    resolved = step(firing(), 5, active=False).state

    assert resolved.notified_at == T0 + H
    assert not resolved.told


def test_a_flapping_unit_is_not_told_again_before_the_min_refire_gap() -> None:
    resolved = step(firing(told_at=1), 2, active=False).state
    pending = step(resolved, 3).state

    result = step(pending, 12.5)  # held 9.5 h, but told only 11.5 h ago

    assert result.state.status is AlertStatus.PENDING
    assert result.notices == ()


def test_a_flapping_unit_fires_again_once_the_min_refire_gap_has_passed() -> None:
    resolved = step(firing(told_at=1), 2, active=False).state
    pending = step(resolved, 3).state

    result = step(pending, 13)  # told 12 h ago

    assert result.state.status is AlertStatus.FIRING
    assert result.notices == (FIRING,)


def test_a_new_episode_after_a_long_calm_fires_after_pending_for_alone() -> None:
    resolved = step(firing(told_at=1), 2, active=False).state
    pending = step(resolved, 48).state

    assert step(pending, 49).notices == (FIRING,)


def test_a_quiet_alert_fires_without_a_notice() -> None:
    pending = step(AlertState(), 0).state

    result = step(pending, 1, quiet=True)

    assert result.state.status is AlertStatus.FIRING
    assert not result.state.told
    assert result.notices == ()


def test_a_firing_never_told_because_quiet_is_told_once_no_longer_quiet() -> None:
    pending = step(AlertState(), 0).state
    silent = step(pending, 1, quiet=True).state
    still_silent = step(silent, 10, quiet=True).state

    result = step(still_silent, 11)

    assert result.notices == (FIRING,)
    assert result.state.told
    assert result.state.fired_at == T0 + H  # the episode began when it fired, not when told


def test_a_quiet_firing_alert_is_not_repeated() -> None:
    assert step(firing(), 30, quiet=True).notices == ()


def test_a_repeat_missed_while_quiet_is_sent_once_no_longer_quiet() -> None:
    silent = step(firing(), 30, quiet=True).state

    assert step(silent, 31).notices == (REPEAT,)


def test_a_firing_never_told_resolves_without_a_notice() -> None:
    pending = step(AlertState(), 0).state
    silent = step(pending, 1, quiet=True).state

    result = step(silent, 5, active=False)

    assert result.state.status is AlertStatus.RESOLVED
    assert result.notices == ()


def test_a_told_alert_that_resolves_while_quiet_says_nothing() -> None:
    result = step(firing(), 5, active=False, quiet=True)

    assert result.state.status is AlertStatus.RESOLVED
    assert result.notices == ()


def test_an_alert_that_escalates_is_not_escalated_before_escalate_after() -> None:
    state = firing(escalates=True)
    for hours in (25, 49):
        result = step(state, hours, escalates=True)
        assert result.notices == (REPEAT,)
        state = result.state

    assert step(state, 72.5, escalates=True).notices == ()


def test_a_critical_alert_escalates_to_the_parent_after_escalate_after() -> None:
    state = firing(told_at=1, escalates=True)

    result = step(state, 73, escalates=True)  # fired 72 h ago, last told 72 h ago

    assert result.notices == (REPEAT, ESCALATED)
    assert result.state.escalated_at == T0 + 73 * H


def test_an_alert_that_does_not_escalate_is_never_escalated() -> None:
    assert step(firing(), 200).notices == (REPEAT,)


def test_escalation_is_repeated_every_repeat_interval() -> None:
    escalated = step(firing(escalates=True), 73, escalates=True).state

    assert step(escalated, 96.5, escalates=True).notices == ()
    assert step(escalated, 97, escalates=True).notices == (REPEAT, ESCALATED)


def test_a_quiet_alert_is_not_escalated() -> None:
    result = step(firing(escalates=True), 73, quiet=True, escalates=True)

    assert result.notices == ()
    assert result.state.escalated_at is None


def test_an_escalated_alert_that_resolves_tells_the_parent_too() -> None:
    escalated = step(firing(escalates=True), 73, escalates=True).state

    assert step(escalated, 80, active=False).notices == (RESOLVED, DEESCALATED)


def test_an_alert_never_escalated_resolves_without_telling_the_parent() -> None:
    assert step(firing(escalates=True), 30, active=False).notices == (RESOLVED,)


def test_a_new_episode_does_not_inherit_the_previous_escalation() -> None:
    escalated = step(firing(escalates=True), 73, escalates=True).state
    resolved = step(escalated, 80, active=False).state
    pending = step(resolved, 90, escalates=True).state
    refired = step(pending, 91, escalates=True)

    assert refired.notices == (FIRING,)
    assert refired.state.escalated_at is None
    assert step(refired.state, 92, active=False).notices == (RESOLVED,)


# Property: any observations of (active, quiet) at increasing times, under any policy.

policies = st.builds(
    Policy,
    pending_for=st.integers(0, 3 * 60).map(lambda m: timedelta(minutes=m)),
    repeat_every=st.integers(1, 48 * 60).map(lambda m: timedelta(minutes=m)),
    min_refire_gap=st.integers(0, 48 * 60).map(lambda m: timedelta(minutes=m)),
    escalate_after=st.integers(0, 96 * 60).map(lambda m: timedelta(minutes=m)),
)
observations = st.lists(
    st.tuples(
        st.integers(1, 30 * 60), st.booleans(), st.booleans()
    ),  # minutes later, active, quiet
    max_size=60,
)


def _run(
    policy: Policy, seen: Sequence[tuple[int, bool, bool]], escalates: bool
) -> list[tuple[datetime, int, NoticeKind]]:
    """Every notice of the run, with its time and the episode (firing spell) it belongs to."""
    state, now, episode, told = AlertState(), T0, 0, []
    for minutes, active, quiet in seen:
        now += timedelta(minutes=minutes)
        was_firing = state.status is AlertStatus.FIRING
        result = advance(
            state, active=active, now=now, policy=policy, quiet=quiet, escalates=escalates
        )
        state = result.state
        episode += int(state.status is AlertStatus.FIRING and not was_firing)
        told += [(now, episode, kind) for kind in result.notices]
    return told


@given(policies, observations, st.booleans())
def test_alert_lifecycle_properties_hold_for_any_observations(
    policy: Policy, seen: list[tuple[int, bool, bool]], escalates: bool
) -> None:
    told = _run(policy, seen, escalates)
    kinds = [kind for _, _, kind in told]

    # (a) A repeat comes at least repeat_every after the previous firing or repeat notice, a
    # new firing at least min_refire_gap after it: so no two are closer than the smaller.
    raised = [(at, kind) for at, _, kind in told if kind in (FIRING, REPEAT)]
    for (before, _), (after, kind) in pairwise(raised):
        assert after - before >= (policy.repeat_every if kind is REPEAT else policy.min_refire_gap)
        assert after - before >= min(policy.repeat_every, policy.min_refire_gap)
    # (b) A resolution (or de-escalation) only follows a firing (or escalation) of its episode,
    # and each episode fires and resolves at most once.
    for earlier, later in ((FIRING, RESOLVED), (ESCALATED, DEESCALATED)):
        for at, episode, kind in told:
            if kind is later:
                assert any(e == episode and k is earlier and t < at for t, e, k in told)
    for kind in (FIRING, RESOLVED, DEESCALATED):
        episodes = [episode for _, episode, k in told if k is kind]
        assert len(episodes) == len(set(episodes))
    # (c) Never more resolutions than firings.
    assert kinds.count(RESOLVED) <= kinds.count(FIRING)
    assert escalates or ESCALATED not in kinds
