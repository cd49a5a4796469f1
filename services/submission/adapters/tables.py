"""The SQL tables (SQLModel). Alembic migrations in ``migrations/`` create them; a test checks
the two agree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from shared.database import UTCDateTime


def _instant(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def now() -> datetime:
    """The current UTC instant (the database stores UTC; campaigns convert to local time)."""
    return datetime.now(UTC)


class UnitRow(SQLModel, table=True):
    """A union unit of the hierarchy."""

    __tablename__ = "units"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    parent_id: str | None = Field(default=None, foreign_key="units.id", index=True, max_length=64)
    level: str = Field(max_length=16)
    # "/tong-ldld-vn/dak-lak/…/id/": a subtree is one indexed prefix match.
    path: str = Field(sa_column=Column(Text, nullable=False, index=True))
    sector: str | None = Field(default=None, max_length=100)
    emulation_cluster: str | None = Field(default=None, max_length=100, index=True)
    members: int = 0
    head_name: str | None = Field(default=None, max_length=200)
    head_email: str | None = Field(default=None, max_length=254)
    head_webhook_url: str | None = Field(default=None, max_length=2000)
    head_alert_channels: str = Field(default="", max_length=64)  # comma-separated
    created_at: datetime = _instant()
    updated_at: datetime = _instant()


class CampaignRow(SQLModel, table=True):
    """A programme phase or a peak campaign."""

    __tablename__ = "campaigns"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    organiser_id: str = Field(foreign_key="units.id", index=True, max_length=64)
    starts_on: date
    ends_on: date
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    eligible_from: date
    eligible_to: date
    counts: str = Field(default="valid", max_length=16)
    pace_curve: str | None = Field(default=None, sa_column=Column(Text))  # JSON list of points
    behind_below: float = 0.8
    critical_below: float = 0.5
    grace_fraction: float = 0.1
    created_at: datetime = _instant()
    updated_at: datetime = _instant()


class TargetRow(SQLModel, table=True):
    """A unit's targets in a campaign: assigned from above, and its own registered one."""

    __tablename__ = "targets"

    campaign_id: str = Field(primary_key=True, foreign_key="campaigns.id", max_length=64)
    union_id: str = Field(primary_key=True, foreign_key="units.id", max_length=64)
    assigned_target: int | None = None
    own_target: int | None = None
    updated_at: datetime = _instant()


class TargetAdjustmentRow(SQLModel, table=True):
    """One change of a target: who, when, from, to and why."""

    __tablename__ = "target_adjustments"
    __table_args__ = (Index("ix_target_adjustments_target", "campaign_id", "union_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: str = Field(max_length=64)
    union_id: str = Field(max_length=64)
    previous_assigned_target: int | None = None
    previous_own_target: int | None = None
    assigned_target: int | None = None
    own_target: int | None = None
    changed_by: str = Field(max_length=128)
    reason: str | None = Field(default=None, max_length=500)
    changed_at: datetime = _instant()


class InitiativeRow(SQLModel, table=True):
    """A registered initiative (sáng kiến)."""

    __tablename__ = "initiatives"
    __table_args__ = (
        UniqueConstraint("union_id", "external_ref", name="uq_initiatives_unit_external_ref"),
        Index("ix_initiatives_campaign_status", "campaign_id", "status"),
    )

    id: str = Field(primary_key=True, max_length=36)
    campaign_id: str = Field(foreign_key="campaigns.id", max_length=64)
    union_id: str = Field(foreign_key="units.id", index=True, max_length=64)
    union_path: str = Field(sa_column=Column(Text, nullable=False, index=True))
    title: str = Field(max_length=300)
    title_normalized: str = Field(max_length=400)
    summary: str | None = Field(default=None, sa_column=Column(Text))
    field: str = Field(max_length=100)
    estimated_benefit_vnd: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    application_date: date
    recognised_by: str = Field(max_length=32)
    recognised_on: date
    award: str | None = Field(default=None, max_length=200)
    attachments: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list
    entered_by: str | None = Field(default=None, max_length=128)
    external_ref: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    possible_duplicate_of: str | None = Field(default=None, max_length=36)
    submitted_at: datetime = _instant(index=True)
    updated_at: datetime = _instant()


class InitiativeAuthorRow(SQLModel, table=True):
    """An author of an initiative. The name stays here; events carry only the person key."""

    __tablename__ = "initiative_authors"

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: str = Field(foreign_key="initiatives.id", index=True, max_length=36)
    position: int
    name: str = Field(max_length=200)
    category: str = Field(max_length=32)
    person_key: str = Field(index=True, max_length=64)


class StatusChangeRow(SQLModel, table=True):
    """One step of an initiative's status history."""

    __tablename__ = "initiative_status_history"

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: str = Field(foreign_key="initiatives.id", index=True, max_length=36)
    status: str = Field(max_length=16)
    actor_id: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = _instant()


class OutboxRow(SQLModel, table=True):
    """An event written with the change it describes, waiting for the relay to publish it."""

    __tablename__ = "outbox"
    # The relay reads the oldest pending rows; a partial index keeps that cheap however many
    # published rows pile up.
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)  # publication order
    event_id: str = Field(max_length=36)
    topic: str = Field(max_length=249)
    key: str = Field(max_length=200)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _instant()
    published_at: datetime | None = _instant(nullable=True)


class RelayLeaseRow(SQLModel, table=True):
    """Which instance's relay publishes: one at a time keeps the order per key."""

    __tablename__ = "relay_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    expires_at: datetime = _instant()


class IdempotencyRow(SQLModel, table=True):
    """The first response to a request with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_keys"

    token_id: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)  # method, path and body hash
    status_code: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _instant()


class ApiTokenRow(SQLModel, table=True):
    """An API token: only its SHA-256 is stored; the token is shown once, when issued."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)
    scope_union_id: str = Field(max_length=64)
    actor_id: str = Field(max_length=128)
    label: str = Field(max_length=200)
    created_at: datetime = _instant()
    expires_at: datetime | None = _instant(nullable=True)
    revoked_at: datetime | None = _instant(nullable=True)
