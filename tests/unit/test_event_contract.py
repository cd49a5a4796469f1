"""The event contract: what goes on Kafka comes back equal, and what cannot be read says why."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from event_samples import campaign_defined, initiative_submitted, sample_events
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import (
    EVENT_TYPES,
    AnyEvent,
    AuthorCategory,
    AuthorRef,
    EventDecodeError,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    RecognisedBy,
    TargetSet,
    decode,
    decode_as,
    encode,
    partition_key,
)
from shared.events.schemas import SCHEMA_DIR, render, schema_documents

SAMPLES = sample_events()


def _as_json(event: AnyEvent) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(encode(event))
    return document


def _decode_error(document: dict[str, Any]) -> EventDecodeError:
    with pytest.raises(EventDecodeError) as caught:
        decode(json.dumps(document, ensure_ascii=False).encode())
    return caught.value


def test_samples_cover_every_event_type() -> None:
    assert sorted(event.type for event in SAMPLES) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=[event.type for event in SAMPLES])
def test_every_event_type_round_trips(event: AnyEvent) -> None:
    decoded = decode(encode(event))

    assert decoded == event
    assert type(decoded) is type(event)


def test_vietnamese_text_travels_as_utf8_and_survives_exactly() -> None:
    event = initiative_submitted()

    raw = encode(event)

    assert "Cải tiến quy trình tiếp nhận hồ sơ".encode() in raw
    assert decode(raw).data == event.data


def test_decomposed_title_comes_back_composed() -> None:
    document = _as_json(initiative_submitted())
    document["data"]["title"] = unicodedata.normalize(
        "NFD", "  Cải tiến quy trình tiếp nhận hồ sơ "
    )

    event = decode(json.dumps(document, ensure_ascii=False).encode())

    assert isinstance(event, InitiativeSubmitted)
    assert event.data.title == unicodedata.normalize("NFC", "Cải tiến quy trình tiếp nhận hồ sơ")


def test_title_length_is_counted_after_composition() -> None:
    document = _as_json(initiative_submitted())
    document["data"]["title"] = unicodedata.normalize("NFD", "ệ" * 300)  # 900 code points

    event = decode(json.dumps(document, ensure_ascii=False).encode())

    assert isinstance(event, InitiativeSubmitted)
    assert len(event.data.title) == 300


def test_empty_title_is_invalid_and_the_error_names_the_field() -> None:
    document = _as_json(initiative_submitted())
    document["data"]["title"] = ""

    error = _decode_error(document)

    assert error.reason == "invalid"
    assert error.detail.startswith("data.title: String should have at least 1 character")


def test_union_path_must_end_with_union_id() -> None:
    document = _as_json(initiative_submitted())
    document["union_path"] = ["tong-ldld-vn", "dak-lak"]

    error = _decode_error(document)

    assert error.reason == "invalid"
    assert error.detail.startswith("union_path:")


def test_naive_occurred_at_is_rejected() -> None:
    document = _as_json(initiative_submitted())
    document["occurred_at"] = "2025-05-12T09:30:00"

    error = _decode_error(document)

    assert error.reason == "invalid"
    assert "occurred_at" in error.detail


@pytest.mark.parametrize(
    ("where", "name"), [((), "priority"), (("data",), "author_name")], ids=["envelope", "data"]
)
def test_unknown_field_is_rejected_by_name(where: tuple[str, ...], name: str) -> None:
    document = _as_json(initiative_submitted())
    target = document
    for key in where:
        target = target[key]
    target[name] = "Nguyễn Văn A"

    error = _decode_error(document)

    assert error.reason == "invalid"
    assert ".".join([*where, name]) in error.detail


def test_initiative_event_needs_a_campaign() -> None:
    document = _as_json(initiative_submitted())
    document["campaign_id"] = None

    assert _decode_error(document).detail.startswith("campaign_id:")


def test_record_without_event_id_is_invalid() -> None:
    document = _as_json(initiative_submitted())
    del document["event_id"]

    error = _decode_error(document)

    assert (error.reason, error.detail) == ("invalid", "event_id: Field required")


def test_unknown_type_is_reported_before_validation() -> None:
    document = {"type": "innovation.submitted.v9", "title": ""}

    error = _decode_error(document)

    assert error.reason == "unknown_type"
    assert "'innovation.submitted.v9'" in error.detail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"{not json", "not_json"), (b"\xff\xfe", "not_utf8"), (b'{"a": NaN}', "not_json")],
    ids=["not-json", "not-utf8", "nan"],
)
def test_unreadable_bytes_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode(raw)

    assert caught.value.reason == reason


def test_decode_as_refuses_another_event_type() -> None:
    raw = encode(initiative_submitted())

    with pytest.raises(EventDecodeError) as caught:
        decode_as(raw, TargetSet)
    assert caught.value.detail == "type: expected 'target.set.v1', got 'innovation.submitted.v1'"
    assert decode_as(raw, InitiativeSubmitted) == initiative_submitted()


@pytest.mark.parametrize(
    ("event_type", "key"),
    [
        ("innovation.submitted.v1", b"cdcs-thpt-buon-ma-thuot"),
        ("union.upserted.v1", b"union:dak-lak-giao-duc"),
        ("campaign.defined.v1", b"campaign:mot-trieu-sang-kien-2025"),
        ("target.set.v1", b"target:mot-trieu-sang-kien-2025:dak-lak"),
        ("alert.lag_raised.v1", b"dak-lak-giao-duc"),
    ],
)
def test_partition_key_keeps_unit_order_and_compacts_registry_state(
    event_type: str, key: bytes
) -> None:
    [event] = [event for event in SAMPLES if event.type == event_type]

    assert partition_key(event) == key


def _curve(*points: tuple[float, float]) -> list[dict[str, float]]:
    return [{"elapsed": elapsed, "expected": expected} for elapsed, expected in points]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_on": "2025-04-30"}, "data.ends_on"),
        ({"critical_below": 0.8}, "data.critical_below"),
        ({"critical_below": 0.9}, "data.critical_below"),
        ({"timezone": "Asia/Sai_Gon"}, "data.timezone"),
        ({"pace_curve": _curve((0, 0), (0.9, 1))}, "data.pace_curve"),
        ({"pace_curve": _curve((0, 0), (0.5, 0.6), (0.5, 0.7), (1, 1))}, "data.pace_curve"),
        ({"pace_curve": _curve((0, 0), (0.5, 0.6), (0.7, 0.5), (1, 1))}, "data.pace_curve"),
    ],
    ids=[
        "ends-before-start",
        "critical-equals-behind",
        "critical-above-behind",
        "unknown-timezone",
        "curve-not-ending-at-1-1",
        "curve-elapsed-repeats",
        "curve-expected-falls",
    ],
)
def test_campaign_rules_are_enforced(changes: dict[str, Any], field: str) -> None:
    document = _as_json(campaign_defined())
    document["data"].update(changes)

    error = _decode_error(document)

    assert error.reason == "invalid"
    assert error.detail.startswith(f"{field}:")


def test_schema_files_are_in_sync_with_the_models() -> None:
    stale = [
        name
        for name, schema in schema_documents().items()
        if not (SCHEMA_DIR / name).is_file()
        or (SCHEMA_DIR / name).read_text(encoding="utf-8") != render(schema)
    ]

    assert not stale, f"stale schema files {stale}: run `python -m shared.events.schemas`"


@pytest.mark.parametrize("event", SAMPLES, ids=[event.type for event in SAMPLES])
def test_every_sample_matches_its_exported_schema(event: AnyEvent) -> None:
    schema = json.loads(Path(SCHEMA_DIR, f"{event.type}.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)

    assert list(validator.iter_errors(_as_json(event))) == []


def test_exported_schema_refuses_what_decode_refuses() -> None:
    schema = schema_documents()["innovation.submitted.v1.json"]
    document = _as_json(initiative_submitted())
    document["data"]["title"] = ""
    del document["event_id"]

    errors = jsonschema.Draft202012Validator(schema).iter_errors(document)

    assert sorted(error.json_path for error in errors) == ["$", "$.data.title"]


_slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
_opaque_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}", fullmatch=True)
# NFC can turn one code point into three (U+FB2C): word sizes keep every text under its limit.
_letters = st.characters(categories=("L", "N"))


def _texts(words: int, letters: int) -> st.SearchStrategy[str]:
    word = st.text(_letters, min_size=1, max_size=letters)
    return st.lists(word, min_size=1, max_size=words).map(" ".join)


_offsets = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@st.composite
def _initiatives(draw: st.DrawFn) -> InitiativeSubmitted:
    path = draw(st.lists(_slugs, min_size=1, max_size=4, unique=True))
    return InitiativeSubmitted(
        event_id=draw(st.uuids()),
        occurred_at=draw(
            st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=_offsets)
        ),
        campaign_id=draw(_slugs),
        union_id=path[-1],
        union_path=path,
        data=InitiativeSubmittedData(
            initiative_id=draw(st.uuids()),
            title=draw(_texts(words=8, letters=10)),
            field=draw(_texts(words=4, letters=6)),
            authors=draw(
                st.lists(
                    st.builds(
                        AuthorRef, person_key=_opaque_ids, category=st.sampled_from(AuthorCategory)
                    ),
                    min_size=1,
                    max_size=5,
                )
            ),
            estimated_benefit_vnd=draw(st.integers(0, 10**15)),
            application_date=draw(st.dates()),
            recognised_by=draw(st.sampled_from(RecognisedBy)),
            recognised_on=draw(st.dates()),
            entered_by=draw(st.none() | _opaque_ids),
            possible_duplicate_of=draw(st.none() | st.uuids()),
        ),
    )


@settings(deadline=None)
@given(_initiatives())
def test_any_initiative_submitted_round_trips(event: InitiativeSubmitted) -> None:
    decoded = decode(encode(event))

    assert decoded == event
    assert decoded.occurred_at.astimezone(UTC) == event.occurred_at.astimezone(UTC)
