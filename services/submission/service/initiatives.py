"""Initiative use cases: register (one, a batch, an import), review, withdraw, read, list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import TypeAdapter, ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.outbox import stage_event
from services.submission.adapters.paths import decode_path
from services.submission.adapters.tables import (
    CampaignRow,
    InitiativeAuthorRow,
    InitiativeRow,
    StatusChangeRow,
    UnitRow,
)
from services.submission.domain.access import Action, Principal, authorize
from services.submission.domain.duplicates import likely_duplicate, normalize_title
from services.submission.domain.errors import DomainError, InvalidInput, NotFound, Problem
from services.submission.domain.initiatives import (
    Status,
    after_review,
    after_withdrawal,
    check_registration,
)
from services.submission.domain.persons import person_key
from services.submission.schemas import (
    BatchReport,
    InitiativeCreate,
    Review,
    RowResult,
    Withdrawal,
)
from services.submission.service.campaigns import campaign_window, load_campaign
from services.submission.service.units import load_unit
from shared.clock import Clock, SystemClock
from shared.events import (
    AuthorRef,
    InitiativeReviewed,
    InitiativeReviewedData,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    InitiativeWithdrawn,
    InitiativeWithdrawnData,
    UnionLevel,
)
from shared.settings import SubmissionSettings

_create_adapter = TypeAdapter(InitiativeCreate)


@dataclass
class Registrar:
    """Registers initiatives for one caller; keeps the units and campaigns it has loaded, so a
    batch of 1,000 rows of one unit loads that unit once."""

    session: AsyncSession
    settings: SubmissionSettings
    principal: Principal
    # The campaign clock: a simulated campaign registers on its own days (shared/clock.py).
    clock: Clock = field(default_factory=SystemClock)
    _units: dict[str, UnitRow] = field(default_factory=dict)
    _campaigns: dict[str, CampaignRow] = field(default_factory=dict)

    async def register(self, registration: InitiativeCreate) -> tuple[InitiativeRow, bool]:
        """Register one initiative; returns it and whether it is new (an external_ref seen
        before in its unit returns the earlier one)."""
        unit = await self._unit(registration.union_id)
        path = decode_path(unit.path)
        authorize(self.principal, Action.REGISTER, path)
        if registration.submitted_at is not None:
            authorize(self.principal, Action.BACKDATE)
        submitted_at = self._submitted_at(registration.submitted_at)
        campaign = await self._campaign(registration.campaign_id)
        check_registration(
            campaign=campaign_window(campaign),
            unit_level=UnionLevel(unit.level),
            unit_path=path,
            submitted_at=submitted_at,
            application_date=registration.application_date,
            recognised_on=registration.recognised_on,
        )
        if registration.external_ref and (
            earlier := await self._by_external_ref(unit.id, registration.external_ref)
        ):
            return earlier, False
        return await self._write(registration, unit, path, submitted_at), True

    def _submitted_at(self, given: datetime | None) -> datetime:
        current = self.clock.now()
        if given is not None and given > current:
            raise InvalidInput(
                Problem("submitted_at", "not_in_future", "submitted_at cannot be in the future")
            )
        return given or current

    async def _write(
        self, registration: InitiativeCreate, unit: UnitRow, path: list[str], submitted_at: datetime
    ) -> InitiativeRow:
        secret = self.settings.submission_person_key_secret.get_secret_value().encode()
        keys = [
            person_key(secret, name=a.name, unit_id=unit.id, identifier=a.identifier)
            for a in registration.authors
        ]
        title_normalized = normalize_title(registration.title)
        duplicate = likely_duplicate(title_normalized, await _candidates(self.session, keys))
        row = InitiativeRow(
            id=str(uuid4()),
            campaign_id=registration.campaign_id,
            union_id=unit.id,
            union_path=unit.path,
            title=registration.title,
            title_normalized=title_normalized,
            summary=registration.summary,
            field=registration.field,
            estimated_benefit_vnd=registration.estimated_benefit_vnd,
            application_date=registration.application_date,
            recognised_by=registration.recognised_by,
            recognised_on=registration.recognised_on,
            award=registration.award,
            attachments=json.dumps(
                [a.model_dump(mode="json") for a in registration.attachments], ensure_ascii=False
            ),
            entered_by=self.principal.actor_id,
            external_ref=registration.external_ref,
            status=Status.SUBMITTED,
            possible_duplicate_of=str(duplicate) if duplicate else None,
            submitted_at=submitted_at,
            updated_at=self.clock.now(),  # when it was entered (a paper form may be older)
        )
        self.session.add(row)
        await self.session.flush()  # the initiative before its authors and history (foreign keys)
        for position, (author, key) in enumerate(zip(registration.authors, keys, strict=True)):
            self.session.add(
                InitiativeAuthorRow(
                    initiative_id=row.id,
                    position=position,
                    name=author.name,
                    category=author.category,
                    person_key=key,
                )
            )
        self.session.add(
            StatusChangeRow(
                initiative_id=row.id,
                status=Status.SUBMITTED,
                actor_id=self.principal.actor_id,
                at=submitted_at,
            )
        )
        data = InitiativeSubmittedData(
            initiative_id=UUID(row.id),
            title=row.title,
            field=row.field,
            authors=[
                AuthorRef(person_key=k, category=a.category)
                for a, k in zip(registration.authors, keys, strict=True)
            ],
            estimated_benefit_vnd=row.estimated_benefit_vnd,
            application_date=row.application_date,
            recognised_by=registration.recognised_by,
            recognised_on=row.recognised_on,
            entered_by=self.principal.actor_id,
            possible_duplicate_of=duplicate,
        )
        event = InitiativeSubmitted(
            occurred_at=submitted_at,
            campaign_id=row.campaign_id,
            union_id=unit.id,
            union_path=path,
            data=data,
        )
        stage_event(self.session, self.settings.topic_initiative_events, event)
        return row

    async def _unit(self, unit_id: str) -> UnitRow:
        if unit_id not in self._units:
            self._units[unit_id] = await load_unit(self.session, unit_id)
        return self._units[unit_id]

    async def _campaign(self, campaign_id: str) -> CampaignRow:
        if campaign_id not in self._campaigns:
            self._campaigns[campaign_id] = await load_campaign(self.session, campaign_id)
        return self._campaigns[campaign_id]

    async def _by_external_ref(self, unit_id: str, external_ref: str) -> InitiativeRow | None:
        query = select(InitiativeRow).where(
            InitiativeRow.union_id == unit_id, InitiativeRow.external_ref == external_ref
        )
        return (await self.session.exec(query)).first()


async def _candidates(session: AsyncSession, person_keys: Sequence[str]) -> list[tuple[UUID, str]]:
    """Initiatives (not withdrawn) that share an author with the new one."""
    query = (
        select(InitiativeRow.id, InitiativeRow.title_normalized)
        .join(InitiativeAuthorRow, col(InitiativeAuthorRow.initiative_id) == col(InitiativeRow.id))
        .where(
            col(InitiativeAuthorRow.person_key).in_(person_keys),
            InitiativeRow.status != Status.WITHDRAWN,
        )
        .distinct()
    )
    return [(UUID(i), title) for i, title in (await session.exec(query)).all()]


async def register_rows(
    registrar: Registrar, numbered: Sequence[tuple[int, dict[str, Any]]]
) -> BatchReport:
    """Register each numbered row on its own (a savepoint per row): a bad row is reported with
    its number, and the others are registered."""
    results = [await _register_row(registrar, number, raw) for number, raw in numbered]
    count = {
        status: sum(r.status == status for r in results)
        for status in ("created", "already_registered", "error")
    }
    return BatchReport(
        created=count["created"],
        already_registered=count["already_registered"],
        failed=count["error"],
        rows=results,
    )


async def _register_row(registrar: Registrar, number: int, raw: dict[str, Any]) -> RowResult:
    if mapping_problems := raw.get("__problems__"):  # found while reading the spreadsheet
        return RowResult(
            row=number, status="error", problems=[_problem_json(p) for p in mapping_problems]
        )
    try:
        registration = _create_adapter.validate_python(raw)
        async with registrar.session.begin_nested():
            row, created = await registrar.register(registration)
    except ValidationError as error:
        problems = [
            {"field": ".".join(map(str, e["loc"])) or "row", "rule": e["type"], "message": e["msg"]}
            for e in error.errors()
        ]
        return RowResult(row=number, status="error", problems=problems)
    except DomainError as error:
        problems = [
            {"field": p.field, "rule": p.rule, "message": p.message} for p in error.problems
        ]
        return RowResult(row=number, status="error", problems=problems)
    duplicate = UUID(row.possible_duplicate_of) if row.possible_duplicate_of else None
    return RowResult(
        row=number,
        status="created" if created else "already_registered",
        id=UUID(row.id),
        possible_duplicate_of=duplicate,
    )


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {"field": problem.field, "rule": problem.rule, "message": problem.message}


async def load_initiative(session: AsyncSession, initiative_id: UUID) -> InitiativeRow:
    """A stored initiative, or NotFound."""
    row = await session.get(InitiativeRow, str(initiative_id))
    if row is None:
        raise NotFound(Problem("initiative_id", "exists", f"no initiative {initiative_id}"))
    return row


async def review(
    session: AsyncSession,
    settings: SubmissionSettings,
    principal: Principal,
    initiative_id: UUID,
    decision: Review,
    *,
    at: datetime,
) -> InitiativeRow:
    """Mark an initiative under review valid or rejected, at the campaign clock's ``at``."""
    row = await load_initiative(session, initiative_id)
    path = decode_path(row.union_path)
    authorize(principal, Action.REVIEW, path)
    status = after_review(Status(row.status), decision.decision)
    _change_status(session, row, status, principal, decision.note, at)
    data = InitiativeReviewedData(
        initiative_id=initiative_id,
        decision=decision.decision,
        reviewer_id=principal.actor_id,
        note=decision.note,
        submitted_at=row.submitted_at,
    )
    event = InitiativeReviewed(
        occurred_at=row.updated_at,
        campaign_id=row.campaign_id,
        union_id=row.union_id,
        union_path=path,
        data=data,
    )
    stage_event(session, settings.topic_initiative_events, event)
    return row


async def withdraw(
    session: AsyncSession,
    settings: SubmissionSettings,
    principal: Principal,
    initiative_id: UUID,
    withdrawal: Withdrawal,
    *,
    at: datetime,
) -> InitiativeRow:
    """Withdraw an initiative that has not been reviewed yet, at the campaign clock's ``at``."""
    row = await load_initiative(session, initiative_id)
    path = decode_path(row.union_path)
    authorize(principal, Action.WITHDRAW, path)
    status = after_withdrawal(Status(row.status))
    _change_status(session, row, status, principal, withdrawal.reason, at)
    data = InitiativeWithdrawnData(
        initiative_id=initiative_id,
        withdrawn_by=principal.actor_id,
        reason=withdrawal.reason,
        submitted_at=row.submitted_at,
    )
    event = InitiativeWithdrawn(
        occurred_at=row.updated_at,
        campaign_id=row.campaign_id,
        union_id=row.union_id,
        union_path=path,
        data=data,
    )
    stage_event(session, settings.topic_initiative_events, event)
    return row


def _change_status(
    session: AsyncSession,
    row: InitiativeRow,
    status: Status,
    principal: Principal,
    note: str | None,
    at: datetime,
) -> None:
    # Never before the submission: a simulated clock may be behind an importer's back-dating.
    row.status = status
    row.updated_at = max(at, row.submitted_at)
    session.add(row)
    session.add(
        StatusChangeRow(
            initiative_id=row.id,
            status=status,
            actor_id=principal.actor_id,
            note=note,
            at=row.updated_at,
        )
    )
