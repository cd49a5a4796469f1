"""The notifier's SQL tables (SQLModel, their own metadata): alert state and its history, the
delivery log, silences, the lease and the digests sent. Alembic migrations in ``migrations/``
create them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.database import UTCDateTime


class NotifierTable(SQLModel, registry=registry()):
    """Base of the notifier's tables: a metadata of their own, apart from the submission's."""


def _instant(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class AlertRow(NotifierTable, table=True):
    """The current state of one alert (campaign, unit, rule), across its episodes."""

    __tablename__ = "alerts"

    campaign_id: str = Field(primary_key=True, max_length=64)
    unit_id: str = Field(primary_key=True, max_length=64)
    rule: str = Field(primary_key=True, max_length=32)
    status: str = Field(default="inactive", max_length=16, index=True)
    since: datetime | None = _instant(nullable=True)
    fired_at: datetime | None = _instant(nullable=True)
    notified_at: datetime | None = _instant(nullable=True)
    told: bool = False
    escalated_at: datetime | None = _instant(nullable=True)
    # Where the unit stood at the last evaluation that changed this row.
    counted: int = 0
    target: int = 0
    expected: float = 0.0
    updated_at: datetime = _instant()


class AlertChangeRow(NotifierTable, table=True):
    """One change of an alert's status: a unit's alert history."""

    __tablename__ = "alert_changes"
    __table_args__ = (Index("ix_alert_changes_unit", "campaign_id", "unit_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(max_length=64)
    unit_id: str = Field(max_length=64)
    rule: str = Field(max_length=32)
    status: str = Field(max_length=16)
    at: datetime = _instant()
    counted: int = 0
    target: int = 0
    expected: float = 0.0


class DeliveryRow(NotifierTable, table=True):
    """One message to one head on one channel: written with the alert changes that caused it
    (in the same transaction), sent after, retried until delivered or given up."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=36)  # UUID: the receivers' idempotency key
    created_at: datetime = _instant()
    evaluated_at: datetime = _instant()  # the campaign clock's time of the evaluation
    campaign_id: str = Field(max_length=64, index=True)
    recipient_union_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)  # email, webhook, kafka
    destination: str = Field(max_length=500)  # address, URL or topic
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON: webhook body, events
    status: str = Field(default="pending", max_length=16)  # pending, sent, failed
    attempts: int = 0
    next_attempt_at: datetime = _instant()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sent_at: datetime | None = _instant(nullable=True)


class SilenceRow(NotifierTable, table=True):
    """A silence: no notices for a unit (or its subtree), a rule or all, until a time."""

    __tablename__ = "silences"

    id: str = Field(primary_key=True, max_length=36)
    unit_id: str = Field(max_length=64, index=True)
    subtree: bool = False
    rule: str | None = Field(default=None, max_length=32)
    campaign_id: str | None = Field(default=None, max_length=64)
    starts_at: datetime = _instant()
    ends_at: datetime = _instant(index=True)
    author: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _instant()
    expired_at: datetime | None = _instant(nullable=True)


class LeaseRow(NotifierTable, table=True):
    """Who is the active notifier: one holder at a time, until the lease expires."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    expires_at: datetime = _instant()


class DigestRow(NotifierTable, table=True):
    """One digest made for one head and one period, written with its deliveries: its key makes
    it once per period, and its ranks are what the next one's rank changes are measured from."""

    __tablename__ = "digests"

    campaign_id: str = Field(primary_key=True, max_length=64)
    recipient_union_id: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=8)  # week, month
    period_start: date = Field(primary_key=True)  # Monday or the 1st, campaign-local
    evaluated_at: datetime = _instant()  # the campaign clock's time the numbers are of
    created_at: datetime = _instant()
    # JSON {unit id: [rank, counted]}: a few hundred units under one head at most.
    ranks: str = Field(sa_column=Column(Text, nullable=False))
