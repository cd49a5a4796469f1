"""Request and response bodies of the submission API (the commands the use cases take).

Field types come from the event contract (shared.events), so the API and the events agree on
what an id, a text or a level is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from shared.events import (
    AuthorCategory,
    CountedStatus,
    MaxChars,
    PacePoint,
    RecognisedBy,
    ReviewDecision,
    Slug,
    Text,
    UnionHead,
    UnionLevel,
)

MAX_BATCH = 1000
MAX_BENEFIT_VND = 10**15  # a thousand trillion đồng: far above any single initiative


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused by name."""

    model_config = ConfigDict(extra="forbid")


# --- units -----------------------------------------------------------------------------------


class UnitCreate(Input):
    """A new unit of the hierarchy."""

    id: Slug
    name: Annotated[Text, MaxChars(200)]
    parent_id: Slug | None = None
    level: UnionLevel
    sector: Annotated[Text, MaxChars(100)] | None = None
    emulation_cluster: Annotated[Text, MaxChars(100)] | None = None
    members: int = Field(default=0, ge=0, le=10_000_000)
    head: UnionHead | None = None


class UnitUpdate(Input):
    """Changes to a unit; its id, parent and level stay as they are."""

    # Left out: unchanged. A unit always has a name and a member count, so null is refused
    # (type error naming the field); sector, cluster and head may be cleared with null.
    name: Annotated[Text, MaxChars(200)] = None  # type: ignore[assignment]
    sector: Annotated[Text, MaxChars(100)] | None = None
    emulation_cluster: Annotated[Text, MaxChars(100)] | None = None
    members: int = Field(default=None, ge=0, le=10_000_000)  # type: ignore[assignment]
    head: UnionHead | None = None


class UnitImport(Input):
    """A whole hierarchy (or part of one) to write at once, after checking it as a tree."""

    units: list[dict[str, Any]] = Field(min_length=1, max_length=200_000)


class UnitPublic(BaseModel):
    """A unit as the API shows it; the head's contacts only to callers whose scope covers it."""

    id: str
    name: str
    parent_id: str | None
    level: UnionLevel
    path: list[str]
    sector: str | None
    emulation_cluster: str | None
    members: int
    head: UnionHead | None


class UnitList(BaseModel):
    """Several units."""

    items: list[UnitPublic]


class ImportReport(BaseModel):
    """What an import wrote."""

    created: int
    updated: int


# --- campaigns and targets -------------------------------------------------------------------


class CampaignCreate(Input):
    """A programme phase or a peak campaign."""

    id: Slug
    name: Annotated[Text, MaxChars(200)]
    organiser_id: Slug
    starts_on: date
    ends_on: date
    timezone: str = "Asia/Ho_Chi_Minh"
    eligible_from: date
    eligible_to: date
    counts: CountedStatus = CountedStatus.VALID
    pace_curve: list[PacePoint] | None = None
    behind_below: float = Field(default=0.8, gt=0, le=1)
    critical_below: float = Field(default=0.5, gt=0, le=1)
    grace_fraction: float = Field(default=0.1, ge=0, le=1)


class CampaignPublic(CampaignCreate):
    """A campaign as stored."""

    model_config = ConfigDict(extra="ignore")


class TargetChange(Input):
    """New target values for a unit; a value left out stays as it is."""

    assigned_target: int | None = Field(default=None, ge=0, le=100_000_000)
    own_target: int | None = Field(default=None, ge=0, le=100_000_000)
    reason: Annotated[Text, MaxChars(500)] | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> TargetChange:
        if self.assigned_target is None and self.own_target is None:
            raise ValueError("give assigned_target, own_target or both")
        return self


class TargetAdjustment(BaseModel):
    """One change of a target, kept for ever."""

    previous_assigned_target: int | None
    previous_own_target: int | None
    assigned_target: int | None
    own_target: int | None
    changed_by: str
    reason: str | None
    changed_at: datetime


class TargetPublic(BaseModel):
    """A unit's targets, beside the sums of its children's (which may differ)."""

    campaign_id: str
    union_id: str
    assigned_target: int | None
    own_target: int | None
    children_assigned_total: int
    children_own_total: int
    children_with_target: int
    history: list[TargetAdjustment]


# --- initiatives -----------------------------------------------------------------------------


class AuthorIn(Input):
    """An author as a form gives them; only a pseudonymous key leaves this service."""

    name: Annotated[Text, MaxChars(200)]
    category: AuthorCategory
    identifier: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class Attachment(Input):
    """What is known of an attached file (the file itself is stored elsewhere)."""

    name: Annotated[Text, MaxChars(255)]
    content_type: Annotated[str, Field(max_length=100)] | None = None
    size_bytes: int = Field(ge=0, le=10**10)
    url: HttpUrl | None = None


class InitiativeCreate(Input):
    """A registration, as a member or a support team submits it."""

    campaign_id: Slug
    union_id: Slug
    title: Annotated[Text, MaxChars(300)]
    summary: Annotated[Text, MaxChars(5000)] | None = None
    field: Annotated[Text, MaxChars(100)]
    authors: list[AuthorIn] = Field(min_length=1, max_length=50)
    recognised_by: RecognisedBy
    recognised_on: date
    application_date: date
    estimated_benefit_vnd: int = Field(default=0, ge=0, le=MAX_BENEFIT_VND)
    award: Annotated[Text, MaxChars(200)] | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    external_ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    submitted_at: AwareDatetime | None = None


class InitiativeBatch(Input):
    """Up to 1,000 registrations; each row is checked on its own."""

    initiatives: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class Review(Input):
    """A reviewer's decision."""

    decision: ReviewDecision
    note: Annotated[Text, MaxChars(1000)] | None = None


class Withdrawal(Input):
    """Why an initiative is withdrawn."""

    reason: Annotated[Text, MaxChars(1000)] | None = None


class AuthorPublic(BaseModel):
    """An author as stored."""

    name: str
    category: AuthorCategory
    person_key: str


class StatusStep(BaseModel):
    """One step of the status history."""

    status: str
    at: datetime
    actor_id: str | None
    note: str | None


class InitiativePublic(BaseModel):
    """An initiative as stored, with its status history."""

    id: UUID
    campaign_id: str
    union_id: str
    union_path: list[str]
    title: str
    summary: str | None
    field: str
    authors: list[AuthorPublic]
    recognised_by: RecognisedBy
    recognised_on: date
    application_date: date
    estimated_benefit_vnd: int
    award: str | None
    attachments: list[Attachment]
    entered_by: str | None
    external_ref: str | None
    status: str
    possible_duplicate_of: UUID | None
    submitted_at: datetime
    history: list[StatusStep]


class RowResult(BaseModel):
    """The outcome of one row of a batch or import."""

    row: int
    status: str  # created, already_registered, error
    id: UUID | None = None
    possible_duplicate_of: UUID | None = None
    problems: list[dict[str, Any]] = Field(default_factory=list)


class BatchReport(BaseModel):
    """A result per row, and the totals."""

    created: int
    already_registered: int
    failed: int
    rows: list[RowResult]


class InitiativePage(BaseModel):
    """A page of initiatives; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[InitiativePublic]
    next_cursor: str | None
