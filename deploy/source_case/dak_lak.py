"""The Đắk Lắk campaign as data: units, targets, the campaign and the launch-day initiatives.

The province, its district and city federations and its sector unions carry their real names.
The grassroots unions under them are generated (their names end in "(mẫu)": sample data), from
a fixed seed, so every run builds the same case. Pure: no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

ROOT = "tong-ldld-vn"
PROVINCE = "dak-lak"
CAMPAIGN = "dak-lak-cao-diem-2022"
PROVINCE_TARGET = 2500
AT_LAUNCH = 696
STARTS_ON, ENDS_ON = date(2022, 4, 27), date(2022, 5, 31)
LOCAL = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has kept +07:00 since 1975
# The 696 counted at the launch: registered on the system by the letter's morning.
LAUNCH_AT = datetime(2022, 4, 27, 7, 0, tzinfo=LOCAL)
ADJUSTMENT_REASON = "Điều chỉnh chỉ tiêu theo Công văn số 1326/LĐLĐ ngày 20/4/2022"
SAMPLE = " (mẫu)"
SEED = 1335  # the letter's number

NORTH, SOUTH = "Cụm thi đua số 1 (các huyện phía Bắc)", "Cụm thi đua số 2 (thành phố và phía Nam)"
SECTORS = "Cụm thi đua các công đoàn ngành, Khu công nghiệp"

# (id, name, cluster, kinds of grassroots union under it, how many)
UPPER_LEVEL: list[tuple[str, str, str, str, int]] = [
    ("ldld-buon-ma-thuot", "Liên đoàn Lao động thành phố Buôn Ma Thuột", SOUTH, "district", 16),
    ("ldld-buon-ho", "Liên đoàn Lao động thị xã Buôn Hồ", NORTH, "district", 9),
    ("ldld-ea-hleo", "Liên đoàn Lao động huyện Ea H'leo", NORTH, "district", 8),
    ("ldld-ea-sup", "Liên đoàn Lao động huyện Ea Súp", NORTH, "district", 7),
    ("ldld-krong-nang", "Liên đoàn Lao động huyện Krông Năng", NORTH, "district", 8),
    ("ldld-krong-buk", "Liên đoàn Lao động huyện Krông Búk", NORTH, "district", 7),
    ("ldld-buon-don", "Liên đoàn Lao động huyện Buôn Đôn", NORTH, "district", 7),
    ("ldld-cu-mgar", "Liên đoàn Lao động huyện Cư M'gar", NORTH, "district", 9),
    ("ldld-ea-kar", "Liên đoàn Lao động huyện Ea Kar", SOUTH, "district", 9),
    ("ldld-mdrak", "Liên đoàn Lao động huyện M'Đrắk", SOUTH, "district", 7),
    ("ldld-krong-pac", "Liên đoàn Lao động huyện Krông Pắc", SOUTH, "district", 10),
    ("ldld-krong-bong", "Liên đoàn Lao động huyện Krông Bông", SOUTH, "district", 7),
    ("ldld-krong-ana", "Liên đoàn Lao động huyện Krông Ana", SOUTH, "district", 8),
    ("ldld-lak", "Liên đoàn Lao động huyện Lắk", SOUTH, "district", 7),
    ("ldld-cu-kuin", "Liên đoàn Lao động huyện Cư Kuin", SOUTH, "district", 8),
    ("cd-giao-duc", "Công đoàn ngành Giáo dục tỉnh Đắk Lắk", SECTORS, "school", 30),
    ("cd-y-te", "Công đoàn ngành Y tế tỉnh Đắk Lắk", SECTORS, "health", 20),
    ("cd-cong-thuong", "Công đoàn ngành Công Thương tỉnh Đắk Lắk", SECTORS, "business", 12),
    ("cd-nong-nghiep", "Công đoàn ngành Nông nghiệp và PTNT tỉnh Đắk Lắk", SECTORS, "farm", 12),
    ("cd-vien-chuc", "Công đoàn Viên chức tỉnh Đắk Lắk", SECTORS, "agency", 16),
    ("cd-khu-cong-nghiep", "Công đoàn các Khu công nghiệp tỉnh Đắk Lắk", SECTORS, "business", 14),
    ("cd-giao-thong", "Công đoàn ngành Giao thông vận tải tỉnh Đắk Lắk", SECTORS, "business", 6),
    ("cd-xay-dung", "Công đoàn ngành Xây dựng tỉnh Đắk Lắk", SECTORS, "business", 6),
]

# Grassroots emulation clusters (khối thi đua), by the kind of workplace.
KIND_CLUSTER = {
    "school": "Khối giáo dục",
    "health": "Khối y tế",
    "business": "Khối sản xuất, kinh doanh",
    "farm": "Khối sản xuất, kinh doanh",
    "agency": "Khối hành chính, sự nghiệp",
}
KIND_FIELD = {
    "school": "Giáo dục và đào tạo",
    "health": "Y tế",
    "business": "Sản xuất, kinh doanh",
    "farm": "Nông nghiệp",
    "agency": "Quản lý hành chính",
}
KIND_MEMBERS = {
    "school": (35, 120),
    "health": (80, 600),
    "business": (60, 1500),
    "farm": (40, 400),
    "agency": (20, 90),
}
PEOPLE = ["Nguyễn Du", "Lê Quý Đôn", "Chu Văn An", "Trần Phú", "Hùng Vương", "Ngô Quyền",
          "Lê Lợi", "Quang Trung", "Phan Bội Châu", "Nguyễn Trãi", "Lý Tự Trọng", "Y Jút",
          "Nơ Trang Lơng", "Phan Chu Trinh", "Trần Quốc Toản", "Võ Thị Sáu", "Hai Bà Trưng",
          "Nguyễn Huệ", "Lê Hồng Phong", "Tôn Đức Thắng"]  # fmt: skip
PLACES = ["Hòa Phú", "Ea Tu", "Cư Êbur", "Hòa Thắng", "Ea Kao", "Tân An", "Krông Á",
          "Ea Drơng", "Phước An", "Ea Knốp", "Buôn Trấp", "Liên Sơn", "Ea Pốk", "Quảng Phú",
          "Ea Wer", "Cư Bao", "Ea Tóh", "Phú Xuân", "Dray Bhăng", "Hòa Hiệp"]  # fmt: skip
BUSINESSES = ["Công ty CP Cà phê {p}", "Công ty TNHH MTV Cao su {p}", "Công ty CP Thủy điện {p}",
              "Công ty TNHH Chế biến nông sản {p}", "Công ty CP Xây lắp {p}",
              "Công ty TNHH Vận tải {p}", "Công ty CP Gỗ {p}", "Công ty CP Dược {p}"]  # fmt: skip
DISTRICT_KINDS = ["school", "school", "school", "health", "agency", "agency", "business", "farm"]


@dataclass(frozen=True)
class Unit:
    """A unit as the submission API's tree import takes it."""

    id: str
    name: str
    parent_id: str | None
    level: str
    sector: str | None = None
    emulation_cluster: str | None = None
    members: int = 0
    kind: str | None = None  # grassroots only: the kind of workplace (school, health, ...)

    def as_import_row(self) -> dict[str, object]:
        """The row of ``POST /units/import``, with a head who is alerted by email."""
        head = {
            "name": f"Chủ tịch {self.name.removesuffix(SAMPLE)}",
            "email": f"chu-tich.{self.id}@congdoan-daklak.example",
            "alert_channels": ["email"],
        }
        row: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "parent_id": self.parent_id,
            "level": self.level,
            "members": self.members,
            "head": head,
        }
        if self.sector:
            row["sector"] = self.sector
        if self.emulation_cluster:
            row["emulation_cluster"] = self.emulation_cluster
        return row


@dataclass(frozen=True)
class TargetSetting:
    """One target as set (``PUT /campaigns/{c}/targets/{unit}``): the first, or an adjustment."""

    union_id: str
    assigned_target: int
    own_target: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SourceCase:
    """Everything the seed loads, in order."""

    units: list[Unit]
    targets: list[TargetSetting]  # in the order to set them: adjustments after the first values
    launch: dict[str, int]  # grassroots id -> initiatives registered by the launch
    campaign: dict[str, object] = field(default_factory=dict)

    def final_targets(self) -> dict[str, int]:
        """Each unit's target after the adjustments (the own one when it set one)."""
        final: dict[str, int] = {}
        for setting in self.targets:
            final[setting.union_id] = setting.own_target or setting.assigned_target
        return final

    @property
    def grassroots(self) -> list[Unit]:
        """The grassroots unions, where initiatives are registered."""
        return [u for u in self.units if u.level == "grassroots"]


def campaign_definition() -> dict[str, object]:
    """The campaign as ``POST /campaigns`` takes it: the letter counts registered initiatives."""
    return {
        "id": CAMPAIGN,
        "name": "Đợt cao điểm thi đua sáng kiến 40 ngày (Công văn 1335/LĐLĐ)",
        "organiser_id": PROVINCE,
        "starts_on": STARTS_ON.isoformat(),
        "ends_on": ENDS_ON.isoformat(),
        "timezone": "Asia/Ho_Chi_Minh",
        # Phase 1 of the national programme began on 8 January 2022.
        "eligible_from": "2021-01-01",
        "eligible_to": ENDS_ON.isoformat(),
        "counts": "registered",
    }


def build(seed: int = SEED) -> SourceCase:
    """The whole case, the same for the same seed."""
    rng = random.Random(seed)
    units = [
        Unit(PROVINCE, "Liên đoàn Lao động tỉnh Đắk Lắk", ROOT, "province", sector="Địa phương")
    ]
    children: dict[str, list[Unit]] = {}
    uppers: list[Unit] = []
    for upper_id, name, cluster, kind, count in UPPER_LEVEL:
        grassroots = _grassroots(rng, upper_id, name, kind, count)
        children[upper_id] = grassroots
        upper = Unit(
            upper_id,
            name,
            PROVINCE,
            "upper_level",
            sector="Ngành" if kind != "district" else "Địa phương",
            emulation_cluster=cluster,
            members=sum(g.members for g in grassroots),
        )
        uppers.append(upper)
    province_members = sum(u.members for u in uppers)
    units[0] = Unit(PROVINCE, units[0].name, ROOT, "province", "Địa phương", None, province_members)
    units += uppers
    for upper in uppers:
        units += children[upper.id]
    targets = _targets(uppers, children)
    launch = _split(
        AT_LAUNCH, {g.id: _final(targets, g.id) for u in uppers for g in children[u.id]}, rng
    )
    return SourceCase(units, targets, launch, campaign_definition())


def _grassroots(
    rng: random.Random, upper_id: str, upper_name: str, kind: str, count: int
) -> list[Unit]:
    place = upper_name.split(" huyện ")[-1].split(" thị xã ")[-1].split(" thành phố ")[-1]
    kinds = (
        [DISTRICT_KINDS[n % len(DISTRICT_KINDS)] for n in range(count)]
        if kind == "district"
        else [kind] * count
    )
    units = []
    for n, unit_kind in enumerate(kinds, start=1):
        name = _workplace_name(rng, unit_kind, place, n)
        low, high = KIND_MEMBERS[unit_kind]
        units.append(
            Unit(
                f"{upper_id.split('-', 1)[1]}-{n:02d}",
                f"CĐCS {name}{SAMPLE}",
                upper_id,
                "grassroots",
                sector=KIND_FIELD[unit_kind],
                emulation_cluster=KIND_CLUSTER[unit_kind],
                members=rng.randint(low, high),
                kind=unit_kind,
            )
        )
    return units


def _workplace_name(rng: random.Random, kind: str, place: str, n: int) -> str:
    person, spot = rng.choice(PEOPLE), rng.choice(PLACES)
    if kind == "school":
        grade = rng.choice(["Trường Tiểu học", "Trường THCS", "Trường THPT"])
        return f"{grade} {person} ({place})"
    if kind == "health":
        return rng.choice(
            [f"Trung tâm Y tế {place}", f"Trạm Y tế xã {spot}", f"Bệnh viện Đa khoa {place} số {n}"]
        )
    if kind == "agency":
        return rng.choice(
            [f"UBND xã {spot}", f"Sở, ngành số {n} ({place})", f"Ban Quản lý dự án {spot}"]
        )
    return rng.choice(BUSINESSES).format(p=spot) + f" ({place})"


def _targets(uppers: list[Unit], children: dict[str, list[Unit]]) -> list[TargetSetting]:
    """Targets that sum to 2,500 at every level; a few set first otherwise, then adjusted."""
    weight = {u.id: len(children[u.id]) * 10 + u.members / 200 for u in uppers}
    upper_targets = _split(PROVINCE_TARGET, weight, rng=None)
    settings = [TargetSetting(PROVINCE, PROVINCE_TARGET)]
    adjusted: list[TargetSetting] = []
    for upper in uppers:
        settings.append(TargetSetting(upper.id, upper_targets[upper.id]))
        grassroots = children[upper.id]
        shares = _split(
            upper_targets[upper.id], {g.id: 4 + g.members / 40 for g in grassroots}, rng=None
        )
        settings += [TargetSetting(g.id, shares[g.id]) for g in grassroots]
    # Letter 1326/LĐLĐ moved targets between units mid-programme: the first value is set, then
    # the adjustment with its reason, so the history shows both. Sums hold before and after.
    for upper_id in ("cd-giao-duc", "ldld-krong-pac"):
        gaining, losing = children[upper_id][0].id, children[upper_id][1].id
        moved = min(3, _assigned(settings, losing) - 1)
        adjusted += [
            TargetSetting(gaining, _assigned(settings, gaining) + moved, reason=ADJUSTMENT_REASON),
            TargetSetting(losing, _assigned(settings, losing) - moved, reason=ADJUSTMENT_REASON),
        ]
    # Federations registered their own targets above the assigned one (as Hà Nội did).
    health = _assigned(settings, "cd-y-te")
    adjusted.append(
        TargetSetting(
            "cd-y-te",
            health,
            own_target=health + 20,
            reason="Công đoàn ngành Y tế đăng ký chỉ tiêu cao hơn chỉ tiêu được giao",
        )
    )
    return settings + adjusted


def _assigned(settings: list[TargetSetting], union_id: str) -> int:
    return next(s.assigned_target for s in settings if s.union_id == union_id)


def _final(targets: list[TargetSetting], union_id: str) -> int:
    return [s for s in targets if s.union_id == union_id][-1].assigned_target


def _split(total: int, weights: dict[str, float], rng: random.Random | None) -> dict[str, int]:
    """``total`` shared in proportion to ``weights``, exactly (largest remainders); with ``rng``
    the weights are jittered, as real launch-day counts are."""
    if rng is not None:
        weights = {k: w * rng.uniform(0.3, 1.7) for k, w in weights.items()}
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[
        : total - sum(shares.values())
    ]:
        shares[key] += 1
    return shares
