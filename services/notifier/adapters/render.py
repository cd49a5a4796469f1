"""Messages as the channels carry them: an email (Jinja2, plain text and HTML), a webhook's JSON
body, and the alert events of the Kafka topic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.notifier.domain.grouping import Message, Notice
from services.notifier.domain.lifecycle import NoticeKind
from services.notifier.domain.messages import line, subject
from services.notifier.domain.registry import Unit
from shared.events import (
    CampaignDefinedData,
    LagAlertRaised,
    LagAlertRaisedData,
    LagAlertResolved,
    LagAlertResolvedData,
)
from shared.pace import local_date

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# Stable ids of an alert episode: the same episode gets the same alert_id on every instance.
ALERT_NAMESPACE = uuid.UUID("5c1b7e0e-3f5a-4c55-9a57-6b1f2f0b2a10")


@cache
def environment() -> Environment:
    """The notifier's Jinja2 templates (HTML escaped, text kept as written)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"]),
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class RenderedEmail:
    """An email's subject and bodies."""

    subject: str
    text: str
    html: str


def render_email(
    message: Message,
    *,
    recipient: Unit,
    campaign: CampaignDefinedData,
    at: datetime,
    delivery_id: str,
) -> RenderedEmail:
    """The email one head receives for one message."""
    values = _values(message, recipient=recipient, campaign=campaign, at=at)
    values["delivery_id"] = delivery_id
    templates = environment()
    return RenderedEmail(
        subject=values["subject"],
        text=templates.get_template("lag_alert.txt.j2").render(values),
        html=templates.get_template("lag_alert.html.j2").render(values),
    )


def _values(
    message: Message, *, recipient: Unit, campaign: CampaignDefinedData, at: datetime
) -> dict[str, Any]:
    return {
        "subject": subject(message, campaign.name),
        "head_name": recipient.head.name if recipient.head else recipient.name,
        "recipient_name": recipient.name,
        "campaign_name": campaign.name,
        "day": local_date(at, campaign.timezone).strftime("%d/%m/%Y"),
        "raised": [line(notice) for notice in message.raised],
        "resolved": [line(notice) for notice in message.resolved],
    }


def webhook_payload(
    message: Message, *, recipient: Unit, campaign: CampaignDefinedData, at: datetime
) -> dict[str, Any]:
    """The JSON a head's webhook receives: the text, and every notice's numbers."""
    values = _values(message, recipient=recipient, campaign=campaign, at=at)
    return {
        "campaign_id": message.campaign_id,
        "recipient_union_id": message.recipient_id,
        "evaluated_at": at.isoformat(),
        "subject": values["subject"],
        "notices": [_notice_json(notice) for notice in message.notices],
    }


def _notice_json(notice: Notice) -> dict[str, Any]:
    unit = notice.unit
    return {
        "union_id": unit.unit_id,
        "name": unit.name,
        "rule": notice.rule.value,
        "kind": notice.kind.value,
        "counted": unit.counted,
        "target": unit.target,
        "expected": round(unit.expected, 2),
        "gap": unit.gap,
        "days_left": unit.days_left,
        "needed_per_day": unit.needed_per_day,
        "waiting_too_long": unit.waiting_too_long,
        "text": line(notice),
    }


def alert_id(notice: Notice, fired_at: datetime | None) -> uuid.UUID:
    """The id of the alert episode a notice belongs to."""
    unit = notice.unit
    episode = fired_at.isoformat() if fired_at else ""
    name = f"{unit.campaign_id}:{unit.unit_id}:{notice.rule.value}:{episode}"
    return uuid.uuid5(ALERT_NAMESPACE, name)


def alert_event(
    notice: Notice, *, unit: Unit, fired_at: datetime | None, at: datetime
) -> LagAlertRaised | LagAlertResolved | None:
    """The alerts topic's event for a notice: raised (firing, escalated) or resolved; a repeat
    is a reminder of an alert already raised, and is not published again."""
    standing = notice.unit
    fields: dict[str, Any] = {
        "alert_id": alert_id(notice, fired_at),
        "rule": notice.rule,
        "counted": standing.counted,
        "expected": round(standing.expected, 2),
        "target": standing.target,
        "recipient_union_id": notice.recipient_id,
        "message": line(notice),
    }
    envelope: dict[str, Any] = {
        "occurred_at": at,
        "campaign_id": standing.campaign_id,
        "union_id": unit.id,
        "union_path": list(unit.path),
    }
    if notice.kind in (NoticeKind.FIRING, NoticeKind.ESCALATED):
        return LagAlertRaised(
            **envelope, data=LagAlertRaisedData(**fields, gap=standing.expected - standing.counted)
        )
    if notice.kind in (NoticeKind.RESOLVED, NoticeKind.DEESCALATED):
        return LagAlertResolved(**envelope, data=LagAlertResolvedData(**fields))
    return None
