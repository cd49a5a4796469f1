"""The events: templates encoded once by the real models, filled in, and a sample verified."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from services.scoring.adapters.counters import InitiativeEvent
from shared.events import (
    AuthorCategory,
    AuthorRef,
    InitiativeReviewed,
    InitiativeReviewedData,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    InitiativeWithdrawn,
    InitiativeWithdrawnData,
    RecognisedBy,
    ReviewDecision,
    UnionLevel,
    decode,
    encode,
    partition_key,
)

from .base import CAMPAIGN, ICT, ROOT
from .hierarchy import Unit

SHARES = (0.6, 0.3, 0.1)  # submissions, reviews, withdrawals
VALID_SHARE = 0.7  # of reviews
CAMPAIGN_DAYS = 30  # the events' timestamps spread over this many days
SAMPLE_EVERY = 997  # a prime: the verified sample meets every kind of event at every offset

# Sentinels in the template events: valid values that cannot occur in anything generated.
_EVENT_ID = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
_INITIATIVE_ID = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
_PROVINCE, _UPPER, _UNIT = "sentinel-province", "sentinel-upper", "sentinel-unit"
_AUTHOR, _OFFICIAL = "sentinel-author", "sentinel-official"
_OCCURRED = datetime(2001, 2, 3, 4, 5, 6, tzinfo=ICT)
_SUBMITTED = datetime(2002, 3, 4, 5, 6, 7, tzinfo=ICT)
_BENEFIT = 987_654_321
_PLACEHOLDERS = {
    _EVENT_ID: "event_id",
    _INITIATIVE_ID: "initiative_id",
    _PROVINCE: "province",
    _UPPER: "upper",
    _UNIT: "unit",
    _AUTHOR: "author",
    _OFFICIAL: "official",
    _OCCURRED.isoformat(): "occurred_at",
    _SUBMITTED.isoformat(): "submitted_at",
    str(_BENEFIT): "benefit",
}


def _templates() -> dict[str, str]:
    """One ``str.format`` template per kind of event, from an event encoded by the real models."""
    envelope: dict[str, Any] = {
        "event_id": UUID(_EVENT_ID),
        "occurred_at": _OCCURRED,
        "campaign_id": CAMPAIGN,
        "union_id": _UNIT,
        "union_path": [ROOT, _PROVINCE, _UPPER, _UNIT],
    }
    initiative = UUID(_INITIATIVE_ID)
    events: dict[str, InitiativeEvent] = {
        "submitted": InitiativeSubmitted(
            **envelope,
            data=InitiativeSubmittedData(
                initiative_id=initiative,
                title="Cải tiến quy trình tiếp nhận hồ sơ một cửa",
                field="Cải cách hành chính",
                authors=[
                    AuthorRef(person_key=_AUTHOR, category=AuthorCategory.PUBLIC_SERVICE_STAFF),
                    AuthorRef(person_key=_OFFICIAL, category=AuthorCategory.UNION_OFFICIAL),
                ],
                estimated_benefit_vnd=_BENEFIT,
                application_date=date(2025, 3, 1),
                recognised_by=RecognisedBy.INITIATIVE_COUNCIL,
                recognised_on=date(2025, 4, 20),
                entered_by="ho-tro-03",
            ),
        ),
        "withdrawn": InitiativeWithdrawn(
            **envelope,
            data=InitiativeWithdrawnData(
                initiative_id=initiative, withdrawn_by="ho-tro-03", submitted_at=_SUBMITTED
            ),
        ),
    }
    for decision in ReviewDecision:
        events[decision.value] = InitiativeReviewed(
            **envelope,
            data=InitiativeReviewedData(
                initiative_id=initiative,
                decision=decision,
                reviewer_id="tham-dinh-01",
                submitted_at=_SUBMITTED,
            ),
        )
    templates = {}
    for kind, event in events.items():
        # Braces of the JSON itself are doubled first, so only the placeholders are fields.
        text = encode(event).decode().replace("{", "{{").replace("}", "}}")
        for sentinel, name in _PLACEHOLDERS.items():
            text = text.replace(sentinel, "{" + name + "}")
        if "sentinel" in text or _EVENT_ID[:8] in text:
            raise RuntimeError(f"template {kind}: a sentinel was not replaced")
        templates[kind] = text
    return templates


@dataclass
class Expected:
    """What the root's counters must read once every event is applied."""

    submissions: int = 0
    valid: int = 0
    rejected: int = 0
    withdrawn: int = 0
    people: int = 0
    benefit_vnd: int = 0

    def root(self) -> dict[str, int]:
        """The root unit's counters these events imply."""
        return {
            "registered": self.submissions - self.withdrawn,
            "under_review": self.submissions - self.valid - self.rejected - self.withdrawn,
            "valid": self.valid,
            "rejected": self.rejected,
            "withdrawn": self.withdrawn,
            "benefit_vnd": self.benefit_vnd,
            "people": self.people,
        }


@dataclass
class Generated:
    """The encoded records, in publishing order, and what applying them must produce."""

    records: list[tuple[bytes, bytes]]
    kinds: Counter[str]
    expected: Expected


def generate(units: list[Unit], count: int, seed: int) -> Generated:
    """``count`` events by filling the templates: submissions, then reviews and withdrawals of
    submissions still waiting, each keyed by its grassroots unit."""
    templates = _templates()
    grassroots = [unit for unit in units if unit.level == UnionLevel.GRASSROOTS]
    rng = random.Random(seed)
    step = CAMPAIGN_DAYS * 86_400 / count
    start = datetime(2025, 5, 1, 8, 0, tzinfo=ICT)
    records: list[tuple[bytes, bytes]] = []
    kinds: Counter[str] = Counter()
    # Waiting submissions: (initiative number, grassroots index, submitted_at, benefit).
    waiting: list[tuple[int, int, str, int]] = []
    withdrawn_numbers: set[int] = set()
    submitted: list[tuple[int, int]] = []  # (grassroots index, benefit), by initiative number
    for n in range(count):
        occurred_at = (start + timedelta(seconds=int(n * step))).isoformat()
        draw = rng.random()
        if draw < SHARES[0] or not waiting:
            number = len(submitted)
            g = rng.randrange(len(grassroots))
            benefit = 10_000_000 + rng.randrange(500) * 1_000_000
            submitted.append((g, benefit))
            waiting.append((number, g, occurred_at, benefit))
            kind, author, official = "submitted", f"p{number:07x}", f"cb-{grassroots[g].id}"
        else:
            # Swap-remove a random waiting submission: each is followed up at most once.
            pick = rng.randrange(len(waiting))
            waiting[pick], waiting[-1] = waiting[-1], waiting[pick]
            number, g, submitted_at, benefit = waiting.pop()
            if draw < SHARES[0] + SHARES[1]:
                kind = "valid" if rng.random() < VALID_SHARE else "rejected"
            else:
                kind = "withdrawn"
                withdrawn_numbers.add(number)
            author = official = ""
        unit = grassroots[g]
        value = templates[kind].format(
            event_id=f"00000000-0000-4000-8000-{n:012x}",
            initiative_id=f"5b0e3c1e-0000-4000-9000-{number:012x}",
            province=unit.path[1],
            upper=unit.path[2],
            unit=unit.id,
            author=author,
            official=official,
            occurred_at=occurred_at,
            submitted_at=submitted_at if kind != "submitted" else "",
            benefit=benefit,
        )
        records.append((unit.id.encode(), value.encode()))
        kinds[kind] += 1
    live = [submitted[n] for n in range(len(submitted)) if n not in withdrawn_numbers]
    expected = Expected(
        submissions=kinds["submitted"],
        valid=kinds["valid"],
        rejected=kinds["rejected"],
        withdrawn=kinds["withdrawn"],
        # Each live submission has its own author; each unit with one adds its union official.
        people=len(live) + len({g for g, _ in live}),
        benefit_vnd=sum(benefit for _, benefit in live),
    )
    return Generated(records, kinds, expected)


def verify_sample(records: list[tuple[bytes, bytes]]) -> int:
    """Decode every SAMPLE_EVERY-th record: it must re-encode to the same bytes and key."""
    checked = 0
    for key, value in records[::SAMPLE_EVERY]:
        event = decode(value)
        if encode(event) != value or partition_key(event) != key:
            raise RuntimeError(f"generated record does not round-trip: {value[:200]!r}")
        checked += 1
    return checked
