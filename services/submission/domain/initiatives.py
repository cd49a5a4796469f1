"""An initiative's life: registered (under review), then valid or rejected, or withdrawn before
review; and the rules a registration must meet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.submission.domain.errors import Conflict, Problem, invalid
from shared.events import ReviewDecision, UnionLevel


class Status(StrEnum):
    """Where an initiative stands."""

    SUBMITTED = "submitted"  # đang xem xét: under review
    VALID = "valid"  # hợp lệ
    REJECTED = "rejected"  # không hợp lệ
    WITHDRAWN = "withdrawn"  # rút lại


def after_review(current: Status, decision: ReviewDecision) -> Status:
    """The status a review leads to; only an initiative under review can be reviewed."""
    if current != Status.SUBMITTED:
        raise Conflict(
            Problem(
                "status",
                "transition",
                f"only a submitted initiative can be reviewed; this one is {current}",
            )
        )
    return Status.VALID if decision == ReviewDecision.VALID else Status.REJECTED


def after_withdrawal(current: Status) -> Status:
    """Withdrawal is allowed at any time before review."""
    if current != Status.SUBMITTED:
        raise Conflict(
            Problem(
                "status",
                "transition",
                f"only a submitted initiative can be withdrawn; this one is {current}",
            )
        )
    return Status.WITHDRAWN


@dataclass(frozen=True)
class CampaignWindow:
    """What registration needs to know of a campaign."""

    id: str
    organiser_id: str
    starts_on: date
    ends_on: date
    eligible_from: date
    eligible_to: date
    timezone: str

    def local_date(self, moment: datetime) -> date:
        """The campaign-local date of an instant."""
        return moment.astimezone(ZoneInfo(self.timezone)).date()


def check_registration(
    *,
    campaign: CampaignWindow,
    unit_level: UnionLevel,
    unit_path: list[str],
    submitted_at: datetime,
    application_date: date,
    recognised_on: date,
) -> None:
    """Raise InvalidInput for the first broken registration rule."""
    if unit_level != UnionLevel.GRASSROOTS:
        raise invalid(
            "union_id",
            "grassroots",
            f"initiatives are registered at a grassroots union, not at a {unit_level} union",
        )
    if campaign.organiser_id not in unit_path:
        raise invalid(
            "campaign_id",
            "scope",
            f"campaign {campaign.id!r} is run by {campaign.organiser_id!r}, "
            "which this unit is not part of",
        )
    day = campaign.local_date(submitted_at)
    if not campaign.starts_on <= day <= campaign.ends_on:
        raise invalid(
            "submitted_at",
            "campaign_running",
            f"campaign {campaign.id!r} runs from {campaign.starts_on} "
            f"to {campaign.ends_on}, not on {day}",
        )
    if not campaign.eligible_from <= application_date <= campaign.eligible_to:
        raise invalid(
            "application_date",
            "eligibility_window",
            f"the application date must be between {campaign.eligible_from} "
            f"and {campaign.eligible_to}",
        )
    if recognised_on > day:
        raise invalid(
            "recognised_on",
            "not_after_submission",
            "an initiative is recognised before it is registered",
        )
