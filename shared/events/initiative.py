"""Initiative events: an initiative is submitted, then reviewed (valid or rejected) or withdrawn."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.events.envelope import ContractModel, EventEnvelope, MaxChars, OpaqueId, Slug, Text


class AuthorCategory(StrEnum):
    """Who an author is, as the campaign reports count them."""

    PUBLIC_SERVICE_STAFF = "public_service_staff"
    ENTERPRISE_WORKER = "enterprise_worker"
    UNION_OFFICIAL = "union_official"
    OTHER = "other"


class RecognisedBy(StrEnum):
    """The body that recognised the initiative."""

    INITIATIVE_COUNCIL = "initiative_council"
    HEAD_OF_AGENCY = "head_of_agency"


class ReviewDecision(StrEnum):
    """Outcome of the union's review of a submitted initiative."""

    VALID = "valid"
    REJECTED = "rejected"


class AuthorRef(ContractModel):
    """An author by pseudonymous key: names never travel on Kafka."""

    person_key: OpaqueId
    category: AuthorCategory


class InitiativeSubmittedData(ContractModel):
    """An initiative entered into the campaign, waiting for review."""

    initiative_id: UUID
    title: Annotated[Text, MaxChars(300)]
    field: Annotated[Text, MaxChars(100)]
    authors: list[AuthorRef] = Field(min_length=1, max_length=50)
    # 10^15 VND bounds one initiative far above any real one and keeps sums exact in Redis.
    estimated_benefit_vnd: int = Field(default=0, ge=0, le=10**15)
    application_date: date
    recognised_by: RecognisedBy
    recognised_on: date
    entered_by: OpaqueId | None = None
    possible_duplicate_of: UUID | None = None


class InitiativeReviewedData(ContractModel):
    """The review decision on a submitted initiative."""

    initiative_id: UUID
    decision: ReviewDecision
    reviewer_id: OpaqueId
    note: Annotated[Text, MaxChars(1000)] | None = None
    # Lets consumers age the backlog and place a review that arrives before its submission.
    submitted_at: AwareDatetime


class InitiativeWithdrawnData(ContractModel):
    """An initiative taken back before review."""

    initiative_id: UUID
    withdrawn_by: OpaqueId
    reason: Annotated[Text, MaxChars(1000)] | None = None
    submitted_at: AwareDatetime


class InitiativeSubmitted(EventEnvelope):
    """An initiative was submitted by a grassroots unit."""

    type: Literal["innovation.submitted.v1"] = "innovation.submitted.v1"
    campaign_id: Slug
    data: InitiativeSubmittedData


class InitiativeReviewed(EventEnvelope):
    """A submitted initiative was found valid or rejected."""

    type: Literal["innovation.reviewed.v1"] = "innovation.reviewed.v1"
    campaign_id: Slug
    data: InitiativeReviewedData


class InitiativeWithdrawn(EventEnvelope):
    """A submitted initiative was withdrawn before review."""

    type: Literal["innovation.withdrawn.v1"] = "innovation.withdrawn.v1"
    campaign_id: Slug
    data: InitiativeWithdrawnData
