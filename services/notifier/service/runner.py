"""The notifier's loop: hold the lease, evaluate on the campaign clock's interval, send what is
due. One instance is active at a time; the others wait for its lease to expire."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from services.notifier.adapters import repository
from services.notifier.adapters.metrics import (
    ACTIVE,
    ALERTS_FIRING,
    EVALUATION_SECONDS,
    EVALUATIONS,
    UNITS_EVALUATED,
)
from services.notifier.domain.lifecycle import Policy
from services.notifier.service.delivery import Dispatcher
from services.notifier.service.digests import DigestService
from services.notifier.service.evaluation import Evaluation, Evaluator
from shared.clock import Clock
from shared.database import Database
from shared.events import AlertRule
from shared.logging import get_logger
from shared.settings import NotifierSettings

log = get_logger(__name__)

LEASE_NAME = "notifier"


def policy_from(settings: NotifierSettings) -> Policy:
    """The lifecycle's timings from the settings."""
    return Policy(
        pending_for=timedelta(minutes=settings.notifier_pending_minutes),
        repeat_every=timedelta(hours=settings.notifier_repeat_hours),
        min_refire_gap=timedelta(hours=settings.notifier_min_refire_hours),
        escalate_after=timedelta(days=settings.notifier_escalate_after_days),
    )


class NotifierRunner:
    """Evaluates and dispatches while holding the lease; ``evaluate_now`` runs one on demand."""

    def __init__(
        self,
        *,
        settings: NotifierSettings,
        database: Database,
        evaluator: Evaluator,
        dispatcher: Dispatcher,
        clock: Clock,
        holder: str,
        registry_ready: asyncio.Event,
        digests: DigestService | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.evaluator = evaluator
        self.dispatcher = dispatcher
        self.clock = clock
        self.holder = holder
        self.registry_ready = registry_ready
        self.digests = digests
        self.interval = timedelta(minutes=settings.notifier_evaluation_interval_minutes)
        self.next_due: datetime | None = None
        self.last: Evaluation | None = None
        self._lock = asyncio.Lock()  # one evaluation at a time, loop or on demand
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Until ``stop()``: take the lease, evaluate when due, send what is due."""
        await self.registry_ready.wait()
        # Renewed beside the rounds: an evaluation longer than the lease (a country on a slow
        # machine) would otherwise lose it every time, and never write.
        keeper = asyncio.create_task(self._keep_lease())
        try:
            while not self._stopping.is_set():
                try:
                    if await self.take_lease():
                        if self.next_due is None or self.clock.now() >= self.next_due:
                            await self.evaluate_now()
                        await self.dispatcher.dispatch_due()
                except repository.LeaseLost as error:
                    log.warning("notifier.lease_lost", reason=str(error))
                except (RedisError, SQLAlchemyError, OSError) as error:
                    log.warning("notifier.round_failed", error=str(error))
                await self._pause(self.settings.notifier_tick_seconds)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_lease(self) -> None:
        while not self._stopping.is_set():
            await self._pause(self.settings.notifier_lease_seconds / 3)
            try:
                await self.take_lease()
            except (SQLAlchemyError, OSError) as error:
                log.warning("notifier.lease_renewal_failed", error=str(error))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def take_lease(self) -> bool:
        """Take or renew the lease; True while this instance is the active one."""
        ttl = timedelta(seconds=self.settings.notifier_lease_seconds)
        async with self.database.transaction() as session:
            held = await repository.take_lease(
                session, name=LEASE_NAME, holder=self.holder, now=datetime.now(UTC), ttl=ttl
            )
        ACTIVE.set(int(held))
        return held

    async def evaluate_now(self) -> Evaluation:
        """Evaluate every running campaign at the clock's now, then make the digests due
        (raises LeaseLost when another instance is active)."""
        async with self._lock:
            at = self.clock.now()
            with EVALUATION_SECONDS.time():
                self.last = await self.evaluator.evaluate(at)
            EVALUATIONS.inc()
            UNITS_EVALUATED.set(self.last.units)
            for rule in AlertRule:
                ALERTS_FIRING.labels(rule.value).set(self.last.by_rule.get(rule.value, 0))
            self.next_due = at + self.interval
            if self.digests is not None:
                # After the alerts are stored and next_due moved on: a digest that fails
                # is tried again at the next round, and holds no alert back.
                await self.digests.send_due(at)
            return self.last

    async def stop(self) -> None:
        """Stop after the round in hand."""
        self._stopping.set()
