"""Play a plan through the submission API as the campaign clock passes each step's time.

Registrations go in batches as the support teams' importer (back-dated to the step's time, which
the clock has passed); reviews and withdrawals go one by one as the upper-level unions' officer,
at the clock's time. Against a stack on the real clock the 2022 campaign is long past, so every
step is due at once and the plan plays as fast as the API takes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from deploy.cli.errors import check
from deploy.simulator.plan import Decision, Plan, Registration
from deploy.source_case.seed import register
from shared.clock import Clock

TICK_SECONDS = 0.2  # how often the runner looks at the clock when nothing is due


@dataclass
class Outcome:
    """What the run did."""

    registered: int = 0
    reviewed: int = 0
    withdrawn: int = 0
    skipped: list[str] = field(default_factory=list)  # steps the service refused, with why


def play(
    plan: Plan,
    *,
    clock: Clock,
    importer: httpx.Client,
    officer: httpx.Client,
    on_step: Callable[[datetime, Outcome], None] = lambda at, outcome: None,
) -> Outcome:
    """Run every step of ``plan`` once the clock has reached it; return the totals."""
    outcome = Outcome()
    ids = register(importer, plan.launch, lambda done: None)  # the seed's: their ids
    steps = plan.timeline()
    position = 0
    while position < len(steps):
        now = clock.now()
        due = []
        while position < len(steps) and steps[position].at <= now:
            due.append(steps[position])
            position += 1
        if not due:
            time.sleep(TICK_SECONDS)
            continue
        registrations = [s for s in due if isinstance(s, Registration)]
        ids.update(register(importer, registrations, lambda done: None))
        outcome.registered += len(registrations)
        for decision in (s for s in due if isinstance(s, Decision)):
            _decide(officer, decision, ids, outcome)
        on_step(due[-1].at, outcome)
    return outcome


def _decide(
    officer: httpx.Client, decision: Decision, ids: dict[str, str], outcome: Outcome
) -> None:
    initiative = ids[decision.external_ref]
    if decision.action == "withdraw":
        response = officer.post(f"/initiatives/{initiative}/withdraw", json={})
        counter = "withdrawn"
    else:
        response = officer.post(
            f"/initiatives/{initiative}/review", json={"decision": decision.action}
        )
        counter = "reviewed"
    if response.status_code == 409:  # decided by an earlier run of the same plan
        outcome.skipped.append(f"{decision.external_ref}: already {decision.action}")
        return
    check(response, f"{decision.action} {decision.external_ref}")
    setattr(outcome, counter, getattr(outcome, counter) + 1)
