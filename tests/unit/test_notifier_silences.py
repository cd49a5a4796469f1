"""Silences: not hearing of a unit or a subtree, for one rule or all, in one campaign or all,
from ``starts_at`` up to (not including) ``ends_at``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from services.notifier.domain.silences import SilenceRule, silenced
from shared.events import AlertRule

ICT = timezone(timedelta(hours=7))
STARTS = datetime(2022, 5, 9, 8, tzinfo=ICT)  # the Monday meeting (giao ban tuần)
ENDS = STARTS + timedelta(days=7)
CAMPAIGN = "dak-lak-2022"
# Root to unit: the province, the education sector union, one of its schools.
PROVINCE = ("ldld-dak-lak",)
SECTOR = (*PROVINCE, "cd-nganh-giao-duc")
SCHOOL = (*SECTOR, "cdcs-thpt-bmt")
OTHER_SECTOR_SCHOOL = (*PROVINCE, "cd-nganh-y-te", "cdcs-benh-vien-tinh")


def silence(unit_id: str = "cd-nganh-giao-duc", **changes: object) -> SilenceRule:
    """A week's silence of every rule for one unit in the Đắk Lắk campaign."""
    base = SilenceRule(
        unit_id=unit_id,
        subtree=False,
        rule=None,
        campaign_id=CAMPAIGN,
        starts_at=STARTS,
        ends_at=ENDS,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_unit_silence_covers_the_unit() -> None:
    assert silence().covers(CAMPAIGN, SECTOR, AlertRule.BEHIND)


def test_a_unit_silence_does_not_cover_the_units_below() -> None:
    assert not silence().covers(CAMPAIGN, SCHOOL, AlertRule.BEHIND)


def test_a_unit_silence_does_not_cover_the_unit_above() -> None:
    assert not silence().covers(CAMPAIGN, PROVINCE, AlertRule.BEHIND)


def test_a_subtree_silence_covers_the_unit_and_every_unit_below() -> None:
    subtree = silence(subtree=True)

    assert subtree.covers(CAMPAIGN, SECTOR, AlertRule.BEHIND)
    assert subtree.covers(CAMPAIGN, SCHOOL, AlertRule.BEHIND)


def test_a_subtree_silence_does_not_cover_the_parent_or_another_branch() -> None:
    subtree = silence(subtree=True)

    assert not subtree.covers(CAMPAIGN, PROVINCE, AlertRule.BEHIND)
    assert not subtree.covers(CAMPAIGN, OTHER_SECTOR_SCHOOL, AlertRule.BEHIND)


def test_a_silence_without_a_rule_covers_every_rule() -> None:
    assert all(silence().covers(CAMPAIGN, SECTOR, rule) for rule in AlertRule)


def test_a_silence_of_one_rule_covers_only_that_rule() -> None:
    backlog_only = silence(rule=AlertRule.REVIEW_BACKLOG)

    assert backlog_only.covers(CAMPAIGN, SECTOR, AlertRule.REVIEW_BACKLOG)
    assert not backlog_only.covers(CAMPAIGN, SECTOR, AlertRule.BEHIND)
    assert not backlog_only.covers(CAMPAIGN, SECTOR, AlertRule.CRITICAL)


def test_a_silence_of_one_campaign_does_not_cover_another() -> None:
    assert not silence().covers("toan-quoc-2022", SECTOR, AlertRule.BEHIND)


def test_a_silence_without_a_campaign_covers_every_campaign() -> None:
    everywhere = silence(campaign_id=None)

    assert everywhere.covers(CAMPAIGN, SECTOR, AlertRule.BEHIND)
    assert everywhere.covers("toan-quoc-2022", SECTOR, AlertRule.BEHIND)


def test_a_unit_silence_covers_no_unit_for_an_empty_path() -> None:
    assert not silence().covers(CAMPAIGN, (), AlertRule.BEHIND)


def test_a_silence_is_in_force_from_its_start() -> None:
    assert silence().active(STARTS)
    assert silence().active(ENDS - timedelta(seconds=1))


def test_a_silence_is_not_in_force_before_its_start() -> None:
    assert not silence().active(STARTS - timedelta(seconds=1))


def test_a_silence_expires_at_its_end() -> None:
    assert not silence().active(ENDS)


def test_an_alert_is_silenced_by_any_silence_in_force_that_covers_it() -> None:
    silences = [silence("cdcs-benh-vien-tinh"), silence(subtree=True, rule=AlertRule.BEHIND)]

    assert silenced(
        silences, campaign_id=CAMPAIGN, unit_path=SCHOOL, rule=AlertRule.BEHIND, now=STARTS
    )


def test_an_alert_is_not_silenced_by_a_silence_that_covers_something_else() -> None:
    silences = [silence("cdcs-benh-vien-tinh"), silence(subtree=True, rule=AlertRule.BEHIND)]

    assert not silenced(
        silences, campaign_id=CAMPAIGN, unit_path=SCHOOL, rule=AlertRule.CRITICAL, now=STARTS
    )


def test_an_alert_is_not_silenced_by_an_expired_silence() -> None:
    assert not silenced(
        [silence(subtree=True)],
        campaign_id=CAMPAIGN,
        unit_path=SCHOOL,
        rule=AlertRule.BEHIND,
        now=ENDS,
    )


def test_an_alert_is_not_silenced_by_a_silence_not_yet_started() -> None:
    later = silence(subtree=True, starts_at=ENDS, ends_at=ENDS + timedelta(days=1))

    assert not silenced(
        [later], campaign_id=CAMPAIGN, unit_path=SCHOOL, rule=AlertRule.BEHIND, now=STARTS
    )


def test_nothing_is_silenced_without_silences() -> None:
    assert not silenced(
        [], campaign_id=CAMPAIGN, unit_path=SCHOOL, rule=AlertRule.BEHIND, now=STARTS
    )
