"""Reading a unit's counter hash: totals, breakdowns, series and the backlog by day."""

from __future__ import annotations

from datetime import date

from shared.counters import UnitCounters, decode_facts, encode_facts, parse_unit

HASH = {
    "registered": "12",
    "under_review": "5",
    "valid": "6",
    "rejected": "1",
    "withdrawn": "2",
    "benefit_vnd": "987654321012345",
    "people": "9",
    "f:registered|Y tế": "7",
    "f:valid|Y tế": "4",
    "f:registered|Giáo dục": "5",
    "a:registered|public_service_staff": "12",
    "a:valid|union_official": "0",
    "d:2022-05-02": "8",
    "d:2022-04-28": "4",
    "w:2022-W17": "4",
    "w:2022-W18": "8",
    "q:2022-05-02": "3",
    "q:2022-04-28": "2",
    "q:2022-04-27": "0",
    "rk:pct": "48.0",
    "rk:people": "9",
}


def test_a_unit_hash_reads_as_totals_breakdowns_and_series() -> None:
    counters = parse_unit(HASH)

    assert (counters.registered, counters.valid, counters.people) == (12, 6, 9)
    assert counters.benefit_vnd == 987_654_321_012_345
    assert counters.by_field == {
        "registered": {"Giáo dục": 5, "Y tế": 7},
        "valid": {"Y tế": 4},
    }
    assert counters.by_category == {"registered": {"public_service_staff": 12}}
    assert list(counters.by_day.items()) == [("2022-04-28", 4), ("2022-05-02", 8)]
    assert counters.by_week == {"2022-W17": 4, "2022-W18": 8}


def test_the_backlog_reads_by_submission_day_without_empty_days() -> None:
    counters = parse_unit(HASH)

    assert counters.backlog_by_day == {"2022-04-28": 2, "2022-05-02": 3}
    assert counters.oldest_waiting == date(2022, 4, 28)
    assert counters.waiting_since_before(date(2022, 5, 2)) == 2
    assert counters.waiting_since_before(date(2022, 5, 3)) == 5


def test_an_empty_hash_is_a_unit_with_nothing_counted() -> None:
    counters = parse_unit({})

    assert counters == UnitCounters()
    assert counters.oldest_waiting is None


def test_registry_facts_round_trip_with_empty_groups() -> None:
    facts = ("dak-lak", "", "upper_level", 1250)

    assert decode_facts(encode_facts(*facts)) == facts
