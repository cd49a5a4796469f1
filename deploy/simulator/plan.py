"""What happens in the campaign, day by day: registrations, reviews and withdrawals. Pure.

Rhythms: working hours, quiet weekends, two peak weeks ("tuần cao điểm"), and units that keep
pace, run ahead, stall for good, stall and recover, start late, or stay weak. Each unit follows a
cumulative curve (a share of its target by the end of each day); a day's registrations are the
curve's step, so totals are exact and the same seed gives the same campaign.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from deploy.source_case.dak_lak import (
    CAMPAIGN,
    ENDS_ON,
    KIND_FIELD,
    LAUNCH_AT,
    LOCAL,
    SEED,
    STARTS_ON,
    SourceCase,
    Unit,
)

DAYS = (ENDS_ON - STARTS_ON).days + 1  # 35
PEAK_WEEKS = [(date(2022, 5, 9), date(2022, 5, 15)), (date(2022, 5, 23), date(2022, 5, 29))]
VALID_SHARE = 0.72  # a little above the 2021 programme's 67%: these were recognised first
NEVER_REVIEWED = 0.12
WITHDRAWN = 0.015


class Profile(StrEnum):
    """How a grassroots union moves through the campaign."""

    STEADY = "steady"
    STRONG = "strong"
    STALLS = "stalls"  # stops after the first week: alerts fire and stay
    STALLS_AND_RECOVERS = "stalls_and_recovers"  # quiet for two weeks, then catches up
    LATE = "late"  # nothing in the first twelve days, then a strong finish
    WEAK = "weak"  # keeps going, too slowly


PROFILE_SHARES = [
    (Profile.STEADY, 0.52),
    (Profile.STRONG, 0.15),
    (Profile.STALLS, 0.10),
    (Profile.STALLS_AND_RECOVERS, 0.12),
    (Profile.LATE, 0.06),
    (Profile.WEAK, 0.05),
]


@dataclass(frozen=True)
class Registration:
    """One initiative to register, at ``at`` (the support team back-dates it to then)."""

    at: datetime
    union_id: str
    external_ref: str
    title: str
    field: str
    authors: tuple[tuple[str, str], ...]  # (name, category)
    benefit_vnd: int
    recognised_on: date
    application_date: date

    def body(self) -> dict[str, object]:
        """The registration as ``POST /initiatives/batch`` takes a row."""
        return {
            "campaign_id": CAMPAIGN,
            "union_id": self.union_id,
            "title": self.title,
            "field": self.field,
            "authors": [{"name": n, "category": c} for n, c in self.authors],
            "recognised_by": "initiative_council",
            "recognised_on": self.recognised_on.isoformat(),
            "application_date": self.application_date.isoformat(),
            "estimated_benefit_vnd": self.benefit_vnd,
            "external_ref": self.external_ref,
            "submitted_at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Decision:
    """A review (``valid`` or ``rejected``) or a withdrawal of a registered initiative."""

    at: datetime
    external_ref: str
    action: str  # valid, rejected or withdraw


@dataclass(frozen=True)
class Plan:
    """The campaign in time order, and each unit's profile."""

    launch: list[Registration]
    registrations: list[Registration]
    decisions: list[Decision]
    profiles: dict[str, Profile]

    def timeline(self) -> list[Registration | Decision]:
        """Every step after the launch, by time (registrations first at equal times)."""
        steps: list[Registration | Decision] = [*self.registrations, *self.decisions]
        return sorted(steps, key=lambda s: (s.at, isinstance(s, Decision)))


def day_weight(day: date) -> float:
    """How busy a day is: weekends are quiet, peak weeks busy."""
    weight = {5: 0.45, 6: 0.15}.get(day.weekday(), 1.0)
    if any(start <= day <= end for start, end in PEAK_WEEKS):
        weight *= 1.6
    return weight


def campaign_days() -> list[date]:
    """The campaign's days, 27 April to 31 May 2022."""
    return [STARTS_ON + timedelta(days=n) for n in range(DAYS)]


def cumulative_share(profile: Profile, launch_share: float) -> list[float]:
    """The share of its target a unit has by the end of each campaign day."""
    weights = [day_weight(d) for d in campaign_days()]

    def shape(first: int, last: int) -> list[float]:
        """0 before day ``first``, rising with the days' weights to 1 at day ``last``."""
        span = sum(weights[first : last + 1])
        out, running = [], 0.0
        for n, w in enumerate(weights):
            if first <= n <= last:
                running += w
            out.append(min(running / span, 1.0) if n >= first else 0.0)
        return out

    def towards(end_share: float, curve: list[float]) -> list[float]:
        return [launch_share + max(end_share - launch_share, 0) * c for c in curve]

    whole = shape(0, DAYS - 1)
    if profile is Profile.STEADY:
        return towards(1.04, whole)
    if profile is Profile.STRONG:
        return towards(1.25, whole)
    if profile is Profile.WEAK:
        return towards(0.62, whole)
    if profile is Profile.LATE:
        return towards(1.0, shape(12, DAYS - 1))
    first_week = towards(1.04, whole)[:6]
    stalled_at = first_week[-1]
    if profile is Profile.STALLS:
        return first_week + [stalled_at] * (DAYS - 6)
    recovery = shape(22, DAYS - 1)  # STALLS_AND_RECOVERS: quiet from day 7 to day 22
    return first_week + [stalled_at + max(1.02 - stalled_at, 0) * r for r in recovery[6:]]


def build_plan(case: SourceCase, seed: int = SEED) -> Plan:
    """The whole campaign for ``case``; the same seed gives the same plan."""
    rng = random.Random(seed)
    targets = case.final_targets()
    launch: list[Registration] = []
    registrations: list[Registration] = []
    profiles: dict[str, Profile] = {}
    for unit in case.grassroots:
        profile = rng.choices([p for p, _ in PROFILE_SHARES], [s for _, s in PROFILE_SHARES])[0]
        profiles[unit.id] = profile
        people = _people(rng, unit)
        at_launch = case.launch[unit.id]
        launch += [
            _registration(rng, unit, people, LAUNCH_AT - timedelta(minutes=n % 60), f"rq-{n:03d}")
            for n in range(at_launch)
        ]
        target = targets[unit.id]
        shares = cumulative_share(profile, at_launch / target)
        done = at_launch
        for day, share in zip(campaign_days(), shares, strict=True):
            for _ in range(max(int(target * share) - done, 0)):
                done += 1
                registrations.append(
                    _registration(rng, unit, people, _working_time(rng, day), f"mp-{done:03d}")
                )
    decisions = [d for r in launch + registrations if (d := _decision(rng, r)) is not None]
    return Plan(launch, registrations, decisions, profiles)


def _people(rng: random.Random, unit: Unit) -> list[tuple[str, str]]:
    """The unit's likely authors: a few people submit several initiatives each."""
    family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng", "Bùi", "H'", "Y"]
    middle = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc", "Đức", "Kim"]
    given = ["Hoa", "Lan", "Hùng", "Dũng", "Mai", "Tuấn", "Hạnh", "Nam", "Bích", "Sơn", "Linh"]
    default = "enterprise_worker" if unit.kind in ("business", "farm") else "public_service_staff"
    people = []
    for _ in range(max(3, unit.members // 12)):
        category = "union_official" if rng.random() < 0.1 else default
        name = f"{rng.choice(family)} {rng.choice(middle)} {rng.choice(given)}".replace("' ", "'")
        people.append((name, category))
    return people


TOPICS = [
    "Cải tiến quy trình {x}", "Số hoá hồ sơ {x}", "Ứng dụng phần mềm quản lý {x}",
    "Giải pháp tiết kiệm điện năng trong {x}", "Sáng kiến giảm thời gian {x}",
    "Đổi mới phương pháp {x}", "Tận dụng phế phẩm trong {x}", "Nâng cao an toàn lao động khi {x}",
]  # fmt: skip
OBJECTS = {
    "school": ["dạy học trực tuyến", "kiểm tra đánh giá học sinh", "quản lý thư viện"],
    "health": ["tiếp đón người bệnh", "quản lý thuốc", "cấp cứu ban đầu"],
    "business": ["vận hành dây chuyền", "bảo dưỡng máy móc", "quản lý kho"],
    "farm": ["chế biến cà phê", "tưới tiêu", "bảo quản nông sản"],
    "agency": ["tiếp nhận hồ sơ một cửa", "lưu trữ văn bản", "giải quyết thủ tục"],
}


def _registration(
    rng: random.Random,
    unit: Unit,
    people: list[tuple[str, str]],
    at: datetime,
    ref: str,
) -> Registration:
    kind = unit.kind or "agency"
    title = rng.choice(TOPICS).format(x=rng.choice(OBJECTS[kind]))
    recognised = at.astimezone(LOCAL).date() - timedelta(days=rng.randint(1, 25))
    rich = kind in ("business", "farm")
    return Registration(
        at=at,
        union_id=unit.id,
        external_ref=f"{ref}-{unit.id}"[:64],
        title=f"{title} tại đơn vị ({ref})",
        field=KIND_FIELD[kind],
        authors=tuple(rng.sample(people, k=min(len(people), rng.choice([1, 1, 1, 2, 3])))),
        benefit_vnd=rng.randint(5, 200) * 1_000_000 if rich else rng.randint(0, 30) * 1_000_000,
        recognised_on=recognised,
        application_date=recognised - timedelta(days=rng.randint(10, 200)),
    )


def _working_time(rng: random.Random, day: date) -> datetime:
    """A moment of a working day, 07:30 to 17:30 local time."""
    minutes = rng.randint(7 * 60 + 30, 17 * 60 + 30)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=LOCAL)


def _decision(rng: random.Random, registration: Registration) -> Decision | None:
    """The review (or withdrawal) an initiative gets, if it comes before the campaign ends."""
    draw = rng.random()
    if draw < NEVER_REVIEWED:
        return None
    day = registration.at.astimezone(LOCAL).date() + timedelta(days=rng.randint(1, 9))
    if day > ENDS_ON:
        return None
    at = max(_working_time(rng, day), registration.at + timedelta(hours=1))
    if draw < NEVER_REVIEWED + WITHDRAWN:
        return Decision(at, registration.external_ref, "withdraw")
    valid = rng.random() < VALID_SHARE
    return Decision(at, registration.external_ref, "valid" if valid else "rejected")
