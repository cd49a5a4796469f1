"""What a head reads: notices grouped into one message per head, worst first, in Vietnamese."""

from __future__ import annotations

import pytest
from notifier_samples import school as unit

from services.notifier.domain.grouping import Message, Notice, group, recipient_of
from services.notifier.domain.lifecycle import NoticeKind
from services.notifier.domain.messages import line, number, percent, subject
from services.notifier.domain.rules import Standing
from shared.events import AlertRule
from shared.pace import PaceStatus

CAMPAIGN = "dak-lak-2022"
CAMPAIGN_NAME = "Đợt cao điểm 40 ngày"
PARENT = "cd-nganh-giao-duc"  # the education sector union above the schools
FIRING, REPEAT, RESOLVED = NoticeKind.FIRING, NoticeKind.REPEAT, NoticeKind.RESOLVED
ESCALATED, DEESCALATED = NoticeKind.ESCALATED, NoticeKind.DEESCALATED
BEHIND, CRITICAL = AlertRule.BEHIND, AlertRule.CRITICAL
BACKLOG = AlertRule.REVIEW_BACKLOG


def notice(
    kind: NoticeKind = FIRING,
    rule: AlertRule = BEHIND,
    *,
    to: str | None = None,
    of: Standing | None = None,
) -> Notice:
    """A notice about ``of`` (the school by default), to its own head unless ``to`` is given."""
    standing = of or unit()
    return Notice(to or standing.unit_id, rule, kind, standing)


# Grouping


@pytest.mark.parametrize("kind", [FIRING, REPEAT, RESOLVED])
def test_the_units_own_head_hears_firing_repeat_and_resolved(kind: NoticeKind) -> None:
    assert recipient_of("cdcs-thpt-bmt", PARENT, kind) == "cdcs-thpt-bmt"


@pytest.mark.parametrize("kind", [ESCALATED, DEESCALATED])
def test_the_parents_head_hears_escalations(kind: NoticeKind) -> None:
    assert recipient_of("cdcs-thpt-bmt", PARENT, kind) == PARENT


def test_the_root_has_no_one_to_escalate_to() -> None:
    assert recipient_of("tong-ldld", None, ESCALATED) is None


def test_a_head_gets_one_message_for_all_their_notices() -> None:
    school = unit()
    messages = group([notice(FIRING, BEHIND, of=school), notice(FIRING, BACKLOG, of=school)])

    assert len(messages) == 1
    assert (messages[0].campaign_id, messages[0].recipient_id) == (CAMPAIGN, "cdcs-thpt-bmt")
    assert len(messages[0].notices) == 2


def test_each_head_gets_their_own_message() -> None:
    messages = group([notice(of=unit("a")), notice(of=unit("b"))])

    assert [m.recipient_id for m in messages] == ["a", "b"]


def test_a_parent_firing_itself_gets_one_message_with_its_escalated_children() -> None:
    parent = unit(PARENT, name="CĐ ngành Giáo dục", counted=300, target=1000, expected=500.0)
    children = [unit(f"school-{n}", counted=n, status=PaceStatus.CRITICAL) for n in (1, 2, 3)]

    messages = group(
        [notice(FIRING, BEHIND, of=parent)]
        + [notice(ESCALATED, CRITICAL, to=PARENT, of=child) for child in children]
    )

    assert len(messages) == 1
    assert messages[0].recipient_id == PARENT
    assert len(messages[0].notices) == 4


def test_the_same_head_gets_one_message_per_campaign() -> None:
    other = unit(campaign_id="toan-quoc-2022")

    messages = group([notice(of=unit()), notice(of=other)])

    assert [m.campaign_id for m in messages] == ["dak-lak-2022", "toan-quoc-2022"]


def test_nothing_to_tell_makes_no_message() -> None:
    assert group([]) == []


def test_lagging_units_come_largest_gap_first() -> None:
    small, large, middle = (unit(u, expected=e) for u, e in (("a", 14.0), ("b", 30.0), ("c", 20.0)))

    head = "cd-cap-tren"

    (message,) = group(
        [notice(to=head, of=small), notice(REPEAT, to=head, of=large), notice(to=head, of=middle)]
    )

    assert [n.unit.unit_id for n in message.notices] == ["b", "c", "a"]


def test_the_review_backlog_comes_after_the_pace_largest_first() -> None:
    head = "cd-cap-tren"
    few = unit("a", waiting_too_long=3, expected=12.0)
    many = unit("b", waiting_too_long=45, expected=12.0)
    behind = unit("c", expected=13.0)  # a gap of 1, still before any backlog

    (message,) = group(
        [
            notice(FIRING, BACKLOG, to=head, of=few),
            notice(FIRING, BACKLOG, to=head, of=many),
            notice(FIRING, BEHIND, to=head, of=behind),
        ]
    )

    assert [(n.rule, n.unit.unit_id) for n in message.notices] == [
        (BEHIND, "c"),
        (BACKLOG, "b"),
        (BACKLOG, "a"),
    ]


def test_bad_news_comes_first_and_resolutions_last() -> None:
    head = PARENT
    caught_up = notice(RESOLVED, BEHIND, to=head, of=unit("a", expected=40.0))
    calmer = notice(DEESCALATED, CRITICAL, to=head, of=unit("b", expected=40.0))
    escalated = notice(ESCALATED, CRITICAL, to=head, of=unit("c", expected=30.0))
    own = notice(FIRING, BEHIND, to=head, of=unit("d", expected=14.0))

    (message,) = group([caught_up, calmer, escalated, own])

    assert message.notices[:2] == (own, escalated)
    assert set(message.notices[2:]) == {caught_up, calmer}
    assert message.raised == (own, escalated)
    assert set(message.resolved) == {caught_up, calmer}


def test_resolutions_and_deescalations_are_not_bad_news() -> None:
    assert [notice(kind).raised for kind in NoticeKind] == [True, True, False, True, False]


# Numbers


def test_thousands_are_grouped_with_dots() -> None:
    assert number(2500) == "2.500"
    assert number(696_948) == "696.948"
    assert number(1_000_000) == "1.000.000"
    assert number(40) == "40"


def test_decimals_take_a_comma_without_trailing_zeros() -> None:
    assert number(27.84, 2) == "27,84"
    assert number(12.5, 2) == "12,5"
    assert number(30.0, 2) == "30"
    assert number(1234.5, 2) == "1.234,5"


def test_the_source_case_stands_at_27_84_percent() -> None:
    assert percent(100 * 696 / 2500) == "27,84%"


def test_percentages_keep_at_most_two_decimals() -> None:
    assert percent(100 * 45 / 400) == "11,25%"
    assert percent(100 / 3) == "33,33%"
    assert percent(30.0) == "30%"
    assert percent(0.0) == "0%"


# Lines


def test_the_issue_example_reads_word_for_word() -> None:
    assert line(notice(FIRING, BEHIND)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: 12/40 sáng kiến (30%), chậm 9 so với tiến độ; "
        "cần 4 sáng kiến mỗi ngày trong 7 ngày còn lại."
    )


def test_a_repeat_reads_like_the_firing() -> None:
    assert line(notice(REPEAT)) == line(notice(FIRING))


def test_the_province_reads_with_vietnamese_thousands_and_decimals() -> None:
    province = unit(
        "ldld-dak-lak", name="LĐLĐ tỉnh Đắk Lắk", counted=696, target=2500, expected=1214.29
    )

    assert line(notice(of=province)).startswith(
        "LĐLĐ tỉnh Đắk Lắk: 696/2.500 sáng kiến (27,84%), chậm 519 so với tiến độ;"
    )


def test_a_critical_unit_is_said_to_be_critical() -> None:
    critical = unit(counted=5, status=PaceStatus.CRITICAL, needed_per_day=5)

    assert line(notice(FIRING, CRITICAL, of=critical)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: 5/40 sáng kiến (12,5%), chậm 16 so với tiến độ "
        "(mức nghiêm trọng); cần 5 sáng kiến mỗi ngày trong 7 ngày còn lại."
    )


def test_the_parents_head_reads_that_a_child_stays_critical() -> None:
    critical = unit(counted=5, status=PaceStatus.CRITICAL, needed_per_day=5)

    assert line(notice(ESCALATED, CRITICAL, to=PARENT, of=critical)).startswith(
        "CĐCS Trường THPT Buôn Ma Thuột (đơn vị trực thuộc) ở mức nghiêm trọng kéo dài: "
        "5/40 sáng kiến (12,5%), chậm 16 so với tiến độ (mức nghiêm trọng);"
    )


def test_a_unit_with_no_day_left_is_told_so() -> None:
    late = unit(days_left=0, needed_per_day=None, expected=40.0)

    assert line(notice(of=late)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: 12/40 sáng kiến (30%), chậm 28 so với tiến độ; "
        "không còn ngày nào để bù."
    )


def test_a_unit_that_caught_up_is_told_where_it_stands() -> None:
    caught_up = unit(counted=20, status=PaceStatus.ON_TRACK, lagging=False)

    assert line(notice(RESOLVED, BEHIND, of=caught_up)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: đã bắt kịp tiến độ, 20/40 sáng kiến (50%)."
    )


def test_a_unit_out_of_critical_is_told_so() -> None:
    assert line(notice(RESOLVED, CRITICAL)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: đã ra khỏi mức nghiêm trọng, 12/40 sáng kiến (30%)."
    )


def test_the_parents_head_reads_that_a_child_is_no_longer_critical() -> None:
    assert line(notice(DEESCALATED, CRITICAL, to=PARENT)) == (
        "CĐCS Trường THPT Buôn Ma Thuột (đơn vị trực thuộc): đã ra khỏi mức nghiêm trọng, "
        "12/40 sáng kiến (30%)."
    )


def test_a_review_backlog_says_what_it_means_for_the_target() -> None:
    waiting = unit(counted=150, target=400, waiting_too_long=45)

    # The issue's wording, "bằng 11% chỉ tiêu", with the two decimals every percent gets.
    assert line(notice(FIRING, BACKLOG, of=waiting)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: 45 sáng kiến chờ duyệt quá 7 ngày, bằng 11% chỉ tiêu."
    )


def test_a_review_backlog_without_a_target_gives_no_share() -> None:
    waiting = unit(target=0, waiting_too_long=45)

    assert line(notice(FIRING, BACKLOG, of=waiting)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: 45 sáng kiến chờ duyệt quá 7 ngày."
    )


def test_a_cleared_backlog_is_told_with_its_limit() -> None:
    cleared = unit(backlog_limit_days=10)

    assert line(notice(RESOLVED, BACKLOG, of=cleared)) == (
        "CĐCS Trường THPT Buôn Ma Thuột: không còn sáng kiến chờ duyệt quá 10 ngày."
    )


# Subjects


def test_the_subject_counts_the_units_that_need_attention_once_each() -> None:
    school, other = unit("a"), unit("b")
    message = Message(
        CAMPAIGN,
        "cd-cap-tren",
        (
            notice(FIRING, BEHIND, of=school),
            notice(FIRING, BACKLOG, of=school),
            notice(REPEAT, BEHIND, of=other),
            notice(RESOLVED, BEHIND, of=unit("c")),
        ),
    )

    assert subject(message, CAMPAIGN_NAME) == "[Sáng kiến] Đợt cao điểm 40 ngày: 2 đơn vị cần chú ý"


def test_a_message_of_good_news_only_says_the_units_improved() -> None:
    message = Message(CAMPAIGN, "cdcs-thpt-bmt", (notice(RESOLVED),))

    assert (
        subject(message, CAMPAIGN_NAME)
        == "[Sáng kiến] Đợt cao điểm 40 ngày: các đơn vị đã cải thiện"
    )
