"""Sends the stored deliveries that are due, each on its own, and records what happened.

Deliveries of one round go out concurrently, each bounded by its channel's timeout, so a dead
webhook costs its own retries and never delays an email. Each outcome is committed as soon as
it is known: a crash between a send and its commit is the only way a message can go twice,
and then it carries the same id (the email's Message-ID, the webhook's X-Sangkien-Delivery, the
alert event's event_id) for the receiver to drop it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.notifier.adapters import repository
from services.notifier.adapters.delivery_errors import DeliveryError
from services.notifier.adapters.email import EmailMessage, EmailSender
from services.notifier.adapters.metrics import DELIVERIES
from services.notifier.adapters.tables import DeliveryRow
from services.notifier.adapters.webhook import WebhookSender
from services.notifier.domain.retry import gives_up, next_attempt_delay
from shared.database import Database
from shared.events import AlertChannel
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass
class Senders:
    """The channels' senders; a missing one leaves its deliveries failed with the reason."""

    email: EmailSender | None
    webhook: WebhookSender | None
    producer: AIOKafkaProducer | None


class Dispatcher:
    """Sends due deliveries while this instance holds the lease."""

    def __init__(
        self,
        *,
        database: Database,
        senders: Senders,
        lease_name: str,
        holder: str,
        batch: int = 100,
    ) -> None:
        self.database = database
        self.senders = senders
        self.lease_name, self.holder = lease_name, holder
        self.batch = batch
        # The loop and POST /evaluations both dispatch: two rounds at once would pick the same
        # pending rows and send them twice.
        self._one_round = asyncio.Lock()

    async def dispatch_due(self) -> int:
        """Send every delivery due now (up to a batch); returns how many were attempted."""
        async with self._one_round:
            return await self._dispatch_due()

    async def _dispatch_due(self) -> int:
        now = datetime.now(UTC)
        async with self.database.transaction() as session:
            await repository.hold_lease(session, name=self.lease_name, holder=self.holder, now=now)
            rows = await repository.due_deliveries(session, now, self.batch)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: DeliveryRow) -> None:
        error: DeliveryError | None = None
        try:
            await self._send(row)
        except DeliveryError as failed:
            error = _without_destination(failed, row)
        async with self.database.transaction() as session:
            stored = await session.get(DeliveryRow, row.id)
            if stored is None or stored.status != "pending":
                return
            _record(stored, error, now=datetime.now(UTC))
        DELIVERIES.labels(row.channel, _outcome(stored.status, error)).inc()
        if error is None:
            log.info("delivery.sent", channel=row.channel, delivery_id=row.id)
        else:
            # The destination is personal data: the log names the delivery, not the address.
            log.warning(
                "delivery.failed",
                channel=row.channel,
                delivery_id=row.id,
                attempts=stored.attempts,
                status=stored.status,
                reason=error.message,
            )

    async def _send(self, row: DeliveryRow) -> None:
        channel = AlertChannel(row.channel)
        if channel is AlertChannel.EMAIL:
            if self.senders.email is None:
                raise DeliveryError("no SMTP server is configured", retryable=False)
            await self.senders.email.send(
                EmailMessage(
                    to=row.destination,
                    subject=row.subject,
                    text=row.body_text,
                    html=row.body_html,
                    headers={"Message-ID": f"<{row.id}@sangkien>"},
                )
            )
        elif channel is AlertChannel.WEBHOOK:
            if self.senders.webhook is None:
                raise DeliveryError("SANGKIEN_NOTIFIER_WEBHOOK_SECRET is not set", retryable=False)
            await self.senders.webhook.send(
                row.destination, json.loads(row.payload), delivery_id=row.id
            )
        else:
            await self._publish(row)

    async def _publish(self, row: DeliveryRow) -> None:
        if self.senders.producer is None:
            raise DeliveryError("no Kafka producer", retryable=True)
        key = json.loads(row.payload)["union_id"].encode()
        try:
            await self.senders.producer.send_and_wait(
                row.destination, row.payload.encode(), key=key
            )
        except KafkaError as error:
            raise DeliveryError(f"Kafka: {error}", retryable=True) from error


def _record(row: DeliveryRow, error: DeliveryError | None, *, now: datetime) -> None:
    """A delivery's outcome: sent, retried later with backoff, or given up."""
    row.attempts += 1
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", now, None
        return
    row.last_error = error.message
    if not error.retryable or gives_up(row.attempts):
        row.status = "failed"
        return
    row.next_attempt_at = now + next_attempt_delay(row.attempts, jitter=random.random())


def _without_destination(error: DeliveryError, row: DeliveryRow) -> DeliveryError:
    """The error with the head's address or webhook URL (and its host) taken out: it is logged
    and shown by GET /deliveries, and a head's contacts are personal data. SMTP servers often
    quote the refused address in their answer, so the senders' messages alone are not enough."""
    if row.channel == AlertChannel.KAFKA.value:  # the destination is a topic
        return error
    found = {row.destination}
    if row.channel == AlertChannel.WEBHOOK.value:
        parts = urlsplit(row.destination)
        found |= {parts.netloc, parts.hostname or ""}
    message = error.message
    for text in sorted((t for t in found if t), key=len, reverse=True):
        message = re.sub(re.escape(text), "<recipient>", message, flags=re.IGNORECASE)
    return DeliveryError(message, retryable=error.retryable)


def _outcome(status: str, error: DeliveryError | None) -> str:
    if error is None:
        return "sent"
    return "failed" if status == "failed" else "retry"
