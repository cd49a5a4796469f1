"""Registry events: unions, campaigns and targets, carried as state on a compacted topic."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, HttpUrl, ValidationInfo, field_validator, model_validator

from shared.events.envelope import (
    ContractModel,
    Email,
    EventEnvelope,
    MaxChars,
    OpaqueId,
    Slug,
    Text,
)

Fraction = Annotated[float, Field(ge=0, le=1)]


class UnionLevel(StrEnum):
    """Level of a union unit in the federation's hierarchy."""

    NATIONAL = "national"
    PROVINCE = "province"
    UPPER_LEVEL = "upper_level"
    GRASSROOTS = "grassroots"


class AlertChannel(StrEnum):
    """How a union head is told about lagging units."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    KAFKA = "kafka"


class CountedStatus(StrEnum):
    """Which initiatives count towards a target."""

    VALID = "valid"
    REGISTERED = "registered"


class UnionHead(ContractModel):
    """The head of a union unit and where their alerts go."""

    name: Annotated[Text, MaxChars(200)]
    email: Email | None = None
    webhook_url: HttpUrl | None = None
    alert_channels: list[AlertChannel] = Field(default_factory=list)

    @field_validator("alert_channels")
    @classmethod
    def _channels_have_contacts(
        cls, channels: list[AlertChannel], info: ValidationInfo
    ) -> list[AlertChannel]:
        if AlertChannel.EMAIL in channels and info.data.get("email") is None:
            raise ValueError("channel 'email' needs head email")
        if AlertChannel.WEBHOOK in channels and info.data.get("webhook_url") is None:
            raise ValueError("channel 'webhook' needs head webhook_url")
        return channels


class UnionUpsertedData(ContractModel):
    """The current state of one union unit."""

    name: Annotated[Text, MaxChars(200)]
    level: UnionLevel
    parent_id: Slug | None = Field(default=None, validate_default=True)
    sector: Annotated[Text, MaxChars(100)] | None = None
    emulation_cluster: Annotated[Text, MaxChars(100)] | None = None
    members: int = Field(ge=0)
    head: UnionHead | None = None

    @field_validator("parent_id")
    @classmethod
    def _only_root_has_no_parent(cls, parent_id: str | None, info: ValidationInfo) -> str | None:
        is_root = info.data.get("level") == UnionLevel.NATIONAL
        if is_root and parent_id is not None:
            raise ValueError("must be null for the national (root) union")
        if not is_root and "level" in info.data and parent_id is None:
            raise ValueError("is required below the national level")
        return parent_id


class PacePoint(ContractModel):
    """One point of a pace curve: the expected share of the target at an elapsed share of time."""

    elapsed: Fraction
    expected: Fraction


class CampaignDefinedData(ContractModel):
    """A campaign's dates, what counts and when a unit is behind."""

    name: Annotated[Text, MaxChars(200)]
    starts_on: date
    ends_on: date
    timezone: str = "Asia/Ho_Chi_Minh"
    eligible_from: date
    eligible_to: date
    counts: CountedStatus = CountedStatus.VALID
    # None means linear: expected(t) = target x elapsed fraction.
    pace_curve: list[PacePoint] | None = None
    behind_below: float = Field(default=0.8, gt=0, le=1)
    critical_below: float = Field(default=0.5, gt=0, le=1)
    grace_fraction: Fraction = 0.1

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and ends_on < starts_on:
            raise ValueError(f"must not be before starts_on {starts_on.isoformat()}")
        return ends_on

    @field_validator("eligible_to")
    @classmethod
    def _eligible_window_ordered(cls, eligible_to: date, info: ValidationInfo) -> date:
        eligible_from = info.data.get("eligible_from")
        if eligible_from is not None and eligible_to < eligible_from:
            raise ValueError(f"must not be before eligible_from {eligible_from.isoformat()}")
        return eligible_to

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {timezone!r}") from error
        return timezone

    @property
    def curve(self) -> list[tuple[float, float]] | None:
        """The pace curve as (elapsed, expected) pairs, as ``shared.pace`` takes it; None for
        the straight line."""
        return [(p.elapsed, p.expected) for p in self.pace_curve] if self.pace_curve else None

    @field_validator("pace_curve")
    @classmethod
    def _curve_is_monotonic(cls, curve: list[PacePoint] | None) -> list[PacePoint] | None:
        if curve is None:
            return None
        ends = [(p.elapsed, p.expected) for p in (curve[0], curve[-1])]
        if len(curve) < 2 or ends != [(0.0, 0.0), (1.0, 1.0)]:
            raise ValueError("must start at (0, 0) and end at (1, 1)")
        for before, after in pairwise(curve):
            if after.elapsed <= before.elapsed:
                raise ValueError("elapsed must strictly increase")
            if after.expected < before.expected:
                raise ValueError("expected must not decrease")
        return curve

    @field_validator("critical_below")
    @classmethod
    def _critical_below_behind(cls, critical_below: float, info: ValidationInfo) -> float:
        behind_below = info.data.get("behind_below")
        if behind_below is not None and critical_below >= behind_below:
            raise ValueError(f"must be less than behind_below {behind_below}")
        return critical_below


class TargetSetData(ContractModel):
    """A unit's target in a campaign: assigned from above, its own, or both."""

    assigned_target: int | None = Field(default=None, ge=0)
    own_target: int | None = Field(default=None, ge=0, validate_default=True)
    previous_assigned_target: int | None = Field(default=None, ge=0)
    previous_own_target: int | None = Field(default=None, ge=0)
    changed_by: OpaqueId
    reason: Annotated[Text, MaxChars(500)] | None = None

    @field_validator("own_target")
    @classmethod
    def _some_target_set(cls, own_target: int | None, info: ValidationInfo) -> int | None:
        # A missing key here means assigned_target itself failed, which is already reported.
        no_assigned = "assigned_target" in info.data and info.data["assigned_target"] is None
        if own_target is None and no_assigned:
            raise ValueError("set assigned_target, own_target or both")
        return own_target


class UnionUpserted(EventEnvelope):
    """A union unit was created or changed; the latest one per unit is its state."""

    type: Literal["union.upserted.v1"] = "union.upserted.v1"
    campaign_id: None = None
    data: UnionUpsertedData

    @model_validator(mode="after")
    def _path_matches_parent(self) -> Self:
        # union_path and parent_id describe the same tree; a disagreement would make scoring
        # roll counts up a different hierarchy than the registry shows.
        parent = self.union_path[-2] if len(self.union_path) > 1 else None
        if parent != self.data.parent_id:
            raise ValueError(f"union_path parent {parent!r} differs from data.parent_id")
        return self


class CampaignDefined(EventEnvelope):
    """A campaign was defined or changed by its organising unit (union_id)."""

    type: Literal["campaign.defined.v1"] = "campaign.defined.v1"
    campaign_id: Slug
    data: CampaignDefinedData


class TargetSet(EventEnvelope):
    """A unit's target for a campaign was set or changed."""

    type: Literal["target.set.v1"] = "target.set.v1"
    campaign_id: Slug
    data: TargetSetData
