"""Rows of the delivery outbox: what the evaluation and the digests store for the dispatcher."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.notifier.adapters.render import RenderedEmail
from services.notifier.domain.registry import Unit
from shared.events import AlertChannel
from shared.logging import get_logger

log = get_logger(__name__)


def real_now() -> datetime:
    """Leases and retries live in real time: they are about processes and endpoints, not about
    the campaign's (possibly simulated) calendar."""
    return datetime.now(UTC)


def pending(
    *,
    at: datetime,
    campaign_id: str,
    recipient_id: str,
    channel: AlertChannel,
    destination: str,
    subject: str,
    text: str = "",
    html: str | None = None,
    payload: str = "{}",
    delivery_id: str | None = None,
) -> dict[str, Any]:
    """A row of the delivery log, pending and due at once (every column: one executemany)."""
    now = real_now()
    return {
        "id": delivery_id or str(uuid.uuid4()),
        "created_at": now,
        "evaluated_at": at,
        "campaign_id": campaign_id,
        "recipient_union_id": recipient_id,
        "channel": channel.value,
        "destination": destination,
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "sent_at": None,
    }


def to_head(
    recipient: Unit,
    *,
    at: datetime,
    campaign_id: str,
    email: Callable[[str], RenderedEmail],
    webhook: Callable[[], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One message to the recipient's head on each of their channels: ``email`` renders it for
    a delivery id, ``webhook`` gives its JSON (a head without channels gets nothing)."""
    head = recipient.head
    if head is None:
        log.warning("delivery.no_head", union_id=recipient.id)
        return []
    rows = []
    to = functools.partial(pending, at=at, campaign_id=campaign_id, recipient_id=recipient.id)
    if AlertChannel.EMAIL in head.alert_channels and head.email:
        delivery_id = str(uuid.uuid4())
        rendered = email(delivery_id)
        rows.append(
            to(
                channel=AlertChannel.EMAIL,
                destination=str(head.email),
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                delivery_id=delivery_id,
            )
        )
    if AlertChannel.WEBHOOK in head.alert_channels and head.webhook_url:
        body = webhook()
        rows.append(
            to(
                channel=AlertChannel.WEBHOOK,
                destination=str(head.webhook_url),
                subject=body["subject"],
                payload=json.dumps(body, ensure_ascii=False),
            )
        )
    return rows
