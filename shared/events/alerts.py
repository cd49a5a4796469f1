"""Lag alert events: a unit fell behind its expected pace, or caught up again."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from shared.events.envelope import ContractModel, EventEnvelope, MaxChars, Slug, Text


class AlertRule(StrEnum):
    """The rule that raised an alert."""

    BEHIND = "behind"
    CRITICAL = "critical"
    REVIEW_BACKLOG = "review_backlog"


class _LagAlertFields(ContractModel):
    alert_id: UUID
    rule: AlertRule
    counted: int = Field(ge=0)
    expected: float = Field(ge=0)
    target: int = Field(ge=0)
    recipient_union_id: Slug
    message: Annotated[Text, MaxChars(2000)]


class LagAlertRaisedData(_LagAlertFields):
    """Where a unit stands when an alert is raised; the message is for the head (Vietnamese)."""

    # expected - counted at the time of the alert.
    gap: float


class LagAlertResolvedData(_LagAlertFields):
    """Where a unit stands when its alert is resolved."""


class LagAlertRaised(EventEnvelope):
    """A unit (union_id) fell behind; the head of recipient_union_id is told."""

    type: Literal["alert.lag_raised.v1"] = "alert.lag_raised.v1"
    campaign_id: Slug
    data: LagAlertRaisedData


class LagAlertResolved(EventEnvelope):
    """A unit (union_id) is no longer behind under the rule of an earlier alert."""

    type: Literal["alert.lag_resolved.v1"] = "alert.lag_resolved.v1"
    campaign_id: Slug
    data: LagAlertResolvedData
