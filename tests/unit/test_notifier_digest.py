"""The digest for the weekly and monthly meetings, pure: its periods and when each falls due,
the ranking and its changes, the laggards, the units with no initiative, the review backlog,
and the Vietnamese a head reads. The source case: Đắk Lắk, Wednesday 27 April to 31 May 2022."""

from __future__ import annotations

from datetime import UTC, date, datetime

from event_samples import ICT, union_event
from notifier_samples import school

from services.notifier.domain.digest import (
    Digest,
    DigestLine,
    Period,
    PeriodKind,
    Ranked,
    build,
    due_period,
    issued_at,
    period_containing,
    rank,
    recipients,
)
from services.notifier.domain.digest_text import (
    laggard_line,
    no_initiative_line,
    rank_change_text,
    ranking_line,
    subject,
)
from services.notifier.domain.registry import Registry
from services.notifier.domain.rules import Standing
from shared.events import CampaignDefinedData, TargetSet, TargetSetData, UnionLevel
from shared.pace import PaceStatus

DAK_LAK = CampaignDefinedData(
    name="Đợt cao điểm 40 ngày",
    starts_on=date(2022, 4, 27),
    ends_on=date(2022, 5, 31),
    eligible_from=date(2022, 1, 8),
    eligible_to=date(2022, 5, 31),
)
WEEK_19 = Period(PeriodKind.WEEK, date(2022, 5, 9), date(2022, 5, 15))


def local(month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(2022, month, day, hour, minute, tzinfo=ICT)


def unit(unit_id: str, counted: int, target: int = 40, **changes: object) -> Standing:
    return school(unit_id, name=f"CĐCS {unit_id}", counted=counted, target=target, **changes)


def digest_of(*units: tuple[Standing, int], previous: dict[str, Ranked] | None = None) -> Digest:
    recipient = Registry()
    recipient.apply(union_event(["ldld-dak-lak", "ldld-tp-bmt"], UnionLevel.UPPER_LEVEL))
    return build(
        campaign_id="dak-lak-2022",
        campaign=DAK_LAK,
        recipient=recipient.units["ldld-tp-bmt"],
        period=WEEK_19,
        at=local(5, 9, 7),
        units=units,
        previous=previous or {},
        compared_with=date(2022, 5, 2) if previous else None,
        backlog_limit_days=7,
    )


def ids(lines: tuple[DigestLine, ...]) -> list[str]:
    return [line.unit.unit_id for line in lines]


# --- periods and when a digest falls due ----------------------------------------------------


def test_a_week_runs_from_monday_to_sunday() -> None:
    assert period_containing(PeriodKind.WEEK, date(2022, 5, 11)) == WEEK_19


def test_a_month_runs_from_the_first_to_its_last_day() -> None:
    assert period_containing(PeriodKind.MONTH, date(2022, 2, 14)) == Period(
        PeriodKind.MONTH, date(2022, 2, 1), date(2022, 2, 28)
    )
    assert period_containing(PeriodKind.MONTH, date(2022, 12, 31)).end == date(2022, 12, 31)


def test_periods_are_named_as_the_meetings_name_them() -> None:
    assert WEEK_19.label == "tuần 19/2022 (09/05–15/05/2022)"
    assert period_containing(PeriodKind.MONTH, date(2022, 5, 20)).label == "tháng 05/2022"


def test_a_weekly_digest_is_due_from_monday_seven_local() -> None:
    assert issued_at(WEEK_19, "Asia/Ho_Chi_Minh") == datetime(2022, 5, 9, 0, tzinfo=UTC)
    assert due_period(PeriodKind.WEEK, DAK_LAK, local(5, 9, 6, 59)) is None
    assert due_period(PeriodKind.WEEK, DAK_LAK, local(5, 9, 7)) == WEEK_19


def test_a_round_that_comes_late_still_makes_the_weeks_digest_until_sunday() -> None:
    assert due_period(PeriodKind.WEEK, DAK_LAK, local(5, 15, 23, 59)) == WEEK_19


def test_the_sunday_before_belongs_to_the_week_before() -> None:
    assert due_period(PeriodKind.WEEK, DAK_LAK, local(5, 8, 23)) == Period(
        PeriodKind.WEEK, date(2022, 5, 2), date(2022, 5, 8)
    )


def test_no_digest_for_a_period_that_began_before_the_campaign() -> None:
    # The campaign opens on Wednesday 27 April: that week and April have nothing to report.
    assert due_period(PeriodKind.WEEK, DAK_LAK, local(4, 28)) is None
    assert due_period(PeriodKind.MONTH, DAK_LAK, local(4, 30)) is None


def test_the_monthly_digest_is_due_from_the_first_at_seven() -> None:
    assert due_period(PeriodKind.MONTH, DAK_LAK, local(5, 1, 6)) is None
    assert due_period(PeriodKind.MONTH, DAK_LAK, local(5, 1, 7)) == Period(
        PeriodKind.MONTH, date(2022, 5, 1), date(2022, 5, 31)
    )


# --- ranking --------------------------------------------------------------------------------


def test_units_are_ranked_by_share_of_their_target() -> None:
    lines = rank([(unit("a", 10, 40), 10), (unit("b", 30, 60), 30), (unit("c", 5, 5), 5)], {})

    assert [(line.rank, line.unit.unit_id) for line in lines] == [(1, "c"), (2, "b"), (3, "a")]


def test_equal_shares_rank_the_larger_count_first_then_by_id() -> None:
    lines = rank([(unit("z", 10, 40), 10), (unit("b", 20, 80), 20), (unit("a", 10, 40), 10)], {})

    assert ids(lines) == ["b", "a", "z"]


def test_a_share_ranks_exactly_not_by_its_rounded_percentage() -> None:
    lines = rank([(unit("a", 33, 100), 33), (unit("b", 1, 3), 1)], {})

    assert ids(lines) == ["b", "a"]


def test_rank_change_counts_places_gained_since_the_last_digest() -> None:
    previous = {"a": Ranked(rank=3, counted=4), "b": Ranked(rank=1, counted=20)}
    lines = rank([(unit("a", 30), 30), (unit("b", 21), 21), (unit("c", 1), 1)], previous)

    assert [(line.unit.unit_id, line.rank_change, line.gained) for line in lines] == [
        ("a", 2, 26),
        ("b", -1, 1),
        ("c", None, None),
    ]
    assert [rank_change_text(line) for line in lines] == ["↑2", "↓1", "mới"]


def test_a_unit_whose_count_fell_reads_a_decrease() -> None:
    [line] = rank([(unit("a", 8), 8)], {"a": Ranked(1, 10)})

    assert ranking_line(line).endswith("hạng =, giảm 2.")


def test_an_unmoved_unit_reads_equal() -> None:
    [line] = rank([(unit("a", 3), 3)], {"a": Ranked(1, 3)})

    assert rank_change_text(line) == "=" and line.gained == 0


def test_a_digest_keeps_each_units_rank_and_count_for_the_next() -> None:
    digest = digest_of((unit("a", 10), 10), (unit("b", 20), 20))

    assert digest.ranks() == {"b": Ranked(1, 20), "a": Ranked(2, 10)}


# --- the lists ------------------------------------------------------------------------------


def test_laggards_are_the_lagging_units_largest_gap_first() -> None:
    digest = digest_of(
        (unit("near", 18, expected=21.0), 18),
        (unit("far", 2, expected=21.0, status=PaceStatus.CRITICAL), 2),
        (unit("fine", 30, expected=21.0, lagging=False, status=PaceStatus.ON_TRACK), 30),
    )

    assert ids(digest.laggards) == ["far", "near"]


def test_units_with_no_initiative_are_those_that_registered_none() -> None:
    # Counting valid initiatives, a unit whose first ones wait for review has counted 0 but
    # has begun: it is not listed.
    digest = digest_of((unit("none", 0), 0), (unit("waiting", 0), 3), (unit("some", 5), 5))

    assert ids(digest.without_initiatives) == ["none"]


def test_the_review_backlog_lists_the_longest_waiting_first() -> None:
    digest = digest_of(
        (unit("recent", 5, under_review=9, waiting_too_long=0), 14),
        (unit("old", 5, under_review=4, waiting_too_long=3), 9),
        (unit("clear", 5), 5),
    )

    assert ids(digest.review_backlog) == ["old", "recent"]


# --- recipients -----------------------------------------------------------------------------


def _registry() -> Registry:
    registry = Registry()
    province, district = ["vn", "dak-lak"], ["vn", "dak-lak", "tp-bmt"]
    for path, level in (
        (["vn"], UnionLevel.NATIONAL),
        (province, UnionLevel.PROVINCE),
        (district, UnionLevel.UPPER_LEVEL),
        ([*district, "school"], UnionLevel.GRASSROOTS),
        ([*district, "hospital"], UnionLevel.GRASSROOTS),
        (["vn", "dak-lak", "krong-pac"], UnionLevel.UPPER_LEVEL),
    ):
        registry.apply(union_event(path, level))
    for unit_id, target in (("dak-lak", 2500), ("tp-bmt", 100), ("school", 40)):
        registry.apply(_target(unit_id, target))
    return registry


def _target(unit_id: str, target: int) -> TargetSet:
    return TargetSet(
        occurred_at=local(4, 27),
        campaign_id="dak-lak-2022",
        union_id=unit_id,
        union_path=[unit_id],
        data=TargetSetData(assigned_target=target, changed_by="lanh-dao-tinh"),
    )


def test_heads_above_units_with_a_target_get_a_digest_but_not_the_national_one() -> None:
    # krong-pac has no child with a target; the national union is above the province only.
    assert [u.id for u in recipients(_registry(), "dak-lak-2022")] == ["dak-lak", "tp-bmt"]


def test_the_registry_knows_each_units_children_and_follows_a_move() -> None:
    registry = _registry()
    registry.apply(union_event(["vn", "dak-lak", "krong-pac", "school"], UnionLevel.GRASSROOTS))

    assert [u.id for u in registry.children("tp-bmt")] == ["hospital"]
    assert [u.id for u in registry.children("krong-pac")] == ["school"]


# --- what the head reads --------------------------------------------------------------------


def test_a_ranking_line_gives_the_numbers_and_the_move() -> None:
    [line] = rank(
        [(unit("bv", 55, 60, status=PaceStatus.ON_TRACK, lagging=False), 55)],
        {"bv": Ranked(2, 50)},
    )

    assert (
        ranking_line(line) == "1. CĐCS bv: 55/60 sáng kiến (91,67%), Đạt tiến độ; hạng ↑1, tăng 5."
    )


def test_a_laggard_line_says_how_far_short_and_what_a_day_needs() -> None:
    [line] = rank([(unit("thpt", 12), 12)], {})

    assert laggard_line(line) == (
        "CĐCS thpt: 12/40 sáng kiến (30%), chậm 9 so với tiến độ; cần 4 sáng kiến mỗi ngày "
        "trong 7 ngày còn lại."
    )


def test_a_unit_with_nothing_yet_is_named_with_its_target() -> None:
    [line] = rank([(unit("mn", 0, 15), 0)], {})

    assert no_initiative_line(line) == "CĐCS mn (chỉ tiêu 15)."


def test_the_subject_names_the_period_and_the_union() -> None:
    digest = digest_of((unit("a", 1), 1))

    assert subject(digest) == (
        "[Sáng kiến] Đợt cao điểm 40 ngày: bản tin tuần 19/2022 (09/05–15/05/2022) "
        "— Đơn vị ldld-tp-bmt"
    )


def test_the_first_digest_has_no_rank_to_compare_with() -> None:
    digest = digest_of((unit("a", 1), 1))

    assert digest.compared_with is None
    assert [line.rank_change for line in digest.lines] == [None]
