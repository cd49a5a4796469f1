"""The submission service's domain rules, tested as pure functions: no database, no network.

Hierarchy levels and imported trees, who may do what where, an initiative's transitions, the
registration rules of a campaign (dates in its own time zone), duplicate titles and author keys.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.submission.domain.access import Action, Principal, Role, authorize
from services.submission.domain.duplicates import (
    SIMILARITY,
    likely_duplicate,
    normalize_title,
    similarity,
)
from services.submission.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    Problem,
)
from services.submission.domain.hierarchy import (
    LEVEL_RANK,
    ImportedUnit,
    KnownUnit,
    check_tree,
    level_problem,
    paths_in_order,
)
from services.submission.domain.initiatives import (
    CampaignWindow,
    Status,
    after_review,
    after_withdrawal,
    check_registration,
)
from services.submission.domain.persons import person_key
from shared.events import ReviewDecision, UnionLevel

NATIONAL = UnionLevel.NATIONAL
PROVINCE = UnionLevel.PROVINCE
UPPER = UnionLevel.UPPER_LEVEL
GRASSROOTS = UnionLevel.GRASSROOTS

VN_TZ = timezone(timedelta(hours=7))


def rules(error: DomainError) -> list[tuple[str, str]]:
    """The (field, rule) of each problem an error carries."""
    return [(problem.field, problem.rule) for problem in error.problems]


def found(problems: list[Problem]) -> set[tuple[int | None, str, str]]:
    """The (row, field, rule) of each problem of a tree check."""
    return {(problem.row, problem.field, problem.rule) for problem in problems}


# --- hierarchy: levels ------------------------------------------------------------------------

HIGHER_LOWER = [
    (parent, child)
    for parent, child in itertools.product(UnionLevel, UnionLevel)
    if LEVEL_RANK[parent] < LEVEL_RANK[child]
]
NOT_LOWER = [
    (parent, child)
    for parent, child in itertools.product(UnionLevel, UnionLevel)
    if LEVEL_RANK[parent] >= LEVEL_RANK[child]
]


def test_levels_rank_national_then_province_then_upper_level_then_grassroots() -> None:
    assert sorted(UnionLevel, key=LEVEL_RANK.__getitem__) == [
        NATIONAL,
        PROVINCE,
        UPPER,
        GRASSROOTS,
    ]


def test_a_grassroots_union_may_sit_directly_under_a_province() -> None:
    assert level_problem(GRASSROOTS, PROVINCE) is None


@pytest.mark.parametrize(("parent", "child"), HIGHER_LOWER)
def test_a_unit_may_sit_under_any_higher_level(parent: UnionLevel, child: UnionLevel) -> None:
    assert level_problem(child, parent) is None


def test_a_province_under_a_grassroots_union_is_refused() -> None:
    assert level_problem(PROVINCE, GRASSROOTS) is not None


@pytest.mark.parametrize(("parent", "child"), NOT_LOWER)
def test_a_unit_may_not_sit_under_its_own_level_or_a_lower_one(
    parent: UnionLevel, child: UnionLevel
) -> None:
    assert level_problem(child, parent) is not None


@pytest.mark.parametrize("level", list(UnionLevel))
def test_only_the_national_union_has_no_parent(level: UnionLevel) -> None:
    assert (level_problem(level, None) is None) == (level == NATIONAL)


def test_known_unit_parent_is_the_next_to_last_id_of_its_path() -> None:
    assert KnownUnit(UPPER, ("vn", "dl", "bmt")).parent_id == "dl"
    assert KnownUnit(NATIONAL, ("vn",)).parent_id is None


# --- hierarchy: checking an imported tree -----------------------------------------------------

# Already stored: the national confederation, two provinces, one upper-level union in Đắk Lắk.
STORED = {
    "vn": KnownUnit(NATIONAL, ("vn",)),
    "dl": KnownUnit(PROVINCE, ("vn", "dl")),
    "hn": KnownUnit(PROVINCE, ("vn", "hn")),
    "bmt": KnownUnit(UPPER, ("vn", "dl", "bmt")),
}


def test_check_tree_accepts_a_grassroots_union_directly_under_a_stored_province() -> None:
    assert check_tree([ImportedUnit(1, "cdcs-a", "dl", GRASSROOTS)], STORED) == []


def test_check_tree_accepts_a_stored_unit_repeated_with_its_own_parent() -> None:
    assert check_tree([ImportedUnit(1, "bmt", "dl", UPPER)], STORED) == []


def test_check_tree_reports_a_repeated_id_at_the_repeating_row() -> None:
    rows = [
        ImportedUnit(1, "cdcs-a", "bmt", GRASSROOTS),
        ImportedUnit(2, "cdcs-a", "bmt", GRASSROOTS),
    ]
    assert found(check_tree(rows, STORED)) == {(2, "id", "unique")}


def test_check_tree_reports_a_parent_neither_in_the_file_nor_stored() -> None:
    rows = [ImportedUnit(1, "cdcs-a", "nowhere", GRASSROOTS)]
    assert found(check_tree(rows, STORED)) == {(1, "parent_id", "exists")}


def test_check_tree_reports_every_row_of_a_cycle_among_file_rows() -> None:
    rows = [
        ImportedUnit(1, "a", "b", UPPER),
        ImportedUnit(2, "b", "c", UPPER),
        ImportedUnit(3, "c", "a", UPPER),
    ]
    cycles = {p for p in found(check_tree(rows, STORED)) if p[1:] == ("parent_id", "no_cycle")}
    assert cycles == {
        (1, "parent_id", "no_cycle"),
        (2, "parent_id", "no_cycle"),
        (3, "parent_id", "no_cycle"),
    }


def test_check_tree_reports_a_unit_that_is_its_own_parent() -> None:
    problems = found(check_tree([ImportedUnit(1, "a", "a", UPPER)], STORED))
    assert (1, "parent_id", "no_cycle") in problems


def test_check_tree_refuses_moving_a_stored_unit_under_its_own_descendant() -> None:
    problems = found(check_tree([ImportedUnit(1, "dl", "bmt", PROVINCE)], STORED))
    assert problems == {(1, "parent_id", "immutable")}


def test_check_tree_reports_a_province_under_a_grassroots_union_at_its_row() -> None:
    rows = [
        ImportedUnit(1, "cdcs-a", "bmt", GRASSROOTS),
        ImportedUnit(2, "p2", "cdcs-a", PROVINCE),
    ]
    assert found(check_tree(rows, STORED)) == {(2, "level", "hierarchy")}


def test_check_tree_reports_a_root_that_is_not_the_national_union() -> None:
    rows = [ImportedUnit(1, "orphan", None, PROVINCE)]
    assert found(check_tree(rows, STORED)) == {(1, "level", "hierarchy")}


def test_check_tree_reports_every_problem_of_a_file_each_with_its_row() -> None:
    rows = [
        ImportedUnit(1, "cdcs-a", "dl", GRASSROOTS),  # fine
        ImportedUnit(2, "cdcs-a", "dl", GRASSROOTS),  # repeats row 1
        ImportedUnit(3, "x", "nowhere", GRASSROOTS),  # parent missing
        ImportedUnit(4, "c1", "c2", UPPER),  # c1 ↔ c2: a cycle, and levels that cannot nest
        ImportedUnit(5, "c2", "c1", UPPER),
        ImportedUnit(6, "p2", "cdcs-a", PROVINCE),  # a province under a grassroots union
    ]
    assert found(check_tree(rows, STORED)) == {
        (2, "id", "unique"),
        (3, "parent_id", "exists"),
        (4, "level", "hierarchy"),
        (4, "parent_id", "no_cycle"),
        (5, "level", "hierarchy"),
        (5, "parent_id", "no_cycle"),
        (6, "level", "hierarchy"),
    }


def test_check_tree_refuses_a_stored_unit_whose_parent_changes() -> None:
    # bmt is stored under dl; the file moves it under hn.
    problems = check_tree([ImportedUnit(1, "bmt", "hn", UPPER)], STORED)
    assert found(problems) == {(1, "parent_id", "immutable")}


def test_paths_in_order_puts_parents_first_with_their_paths() -> None:
    rows = [  # children before parents, as a spreadsheet may list them
        ImportedUnit(1, "cdcs", "tp", GRASSROOTS),
        ImportedUnit(2, "tp", "tinh", UPPER),
        ImportedUnit(3, "tinh", "root", PROVINCE),
        ImportedUnit(4, "root", None, NATIONAL),
    ]
    assert check_tree(rows, {}) == []
    ordered = [(unit.id, path) for unit, path in paths_in_order(rows, {})]
    assert ordered == [
        ("root", ["root"]),
        ("tinh", ["root", "tinh"]),
        ("tp", ["root", "tinh", "tp"]),
        ("cdcs", ["root", "tinh", "tp", "cdcs"]),
    ]


def test_paths_in_order_lists_each_unit_after_its_parent_in_a_branching_tree() -> None:
    rows = [
        ImportedUnit(1, "cdcs-1", "tp", GRASSROOTS),
        ImportedUnit(2, "cdcs-2", "tinh", GRASSROOTS),
        ImportedUnit(3, "tp", "tinh", UPPER),
        ImportedUnit(4, "cdcs-3", "bmt", GRASSROOTS),
        ImportedUnit(5, "tinh", "vn", PROVINCE),
    ]
    assert check_tree(rows, STORED) == []
    ordered = paths_in_order(rows, STORED)
    position = {unit.id: index for index, (unit, _) in enumerate(ordered)}
    assert sorted(position) == sorted(unit.id for unit in rows)
    for unit, path in ordered:
        assert path[-1] == unit.id
        if unit.parent_id in position:
            assert position[unit.parent_id] < position[unit.id]


def test_a_parent_already_stored_gives_the_child_the_stored_path() -> None:
    rows = [ImportedUnit(1, "cdcs", "bmt", GRASSROOTS)]
    assert check_tree(rows, STORED) == []
    [(unit, path)] = paths_in_order(rows, STORED)
    assert unit.id == "cdcs"
    assert path == ["vn", "dl", "bmt", "cdcs"]


# --- access -----------------------------------------------------------------------------------

EXPECTED_ACTIONS: dict[Role, set[Action]] = {
    Role.ADMIN: {
        Action.MANAGE_REGISTRY,
        Action.REGISTER,
        Action.IMPORT,
        Action.REVIEW,
        Action.WITHDRAW,
        Action.READ,
    },
    Role.OFFICER: {Action.REGISTER, Action.IMPORT, Action.REVIEW, Action.WITHDRAW, Action.READ},
    Role.IMPORTER: {Action.REGISTER, Action.IMPORT, Action.BACKDATE, Action.READ},
    Role.VIEWER: {Action.READ},
}


def principal(role: Role, scope: str = "dl") -> Principal:
    return Principal(token_id="t-1", actor_id="actor-1", role=role, scope_union_id=scope)


def test_the_expected_matrix_names_every_role() -> None:
    assert set(EXPECTED_ACTIONS) == set(Role)


@pytest.mark.parametrize(
    ("role", "action"),
    list(itertools.product(Role, Action)),
    ids=[f"{role}-{action}" for role, action in itertools.product(Role, Action)],
)
def test_each_role_may_do_exactly_its_actions(role: Role, action: Action) -> None:
    caller = principal(role)
    allowed = action in EXPECTED_ACTIONS[role]
    assert caller.may(action) is allowed
    if allowed:
        authorize(caller, action)
    else:
        with pytest.raises(Forbidden) as caught:
            authorize(caller, action)
        assert rules(caught.value) == [("authorization", "role")]


def test_a_unit_outside_the_callers_subtree_is_forbidden_by_scope() -> None:
    with pytest.raises(Forbidden) as caught:
        authorize(principal(Role.OFFICER, "dl"), Action.REVIEW, ["vn", "hn", "cdcs"])
    assert rules(caught.value) == [("union_id", "scope")]


def test_a_unit_inside_the_callers_subtree_is_allowed() -> None:
    authorize(principal(Role.OFFICER, "dl"), Action.REVIEW, ["vn", "dl", "bmt", "cdcs"])


def test_the_scope_unit_itself_is_inside_the_scope() -> None:
    authorize(principal(Role.OFFICER, "dl"), Action.REVIEW, ["vn", "dl"])


def test_an_ancestor_of_the_scope_unit_is_outside_the_scope() -> None:
    with pytest.raises(Forbidden) as caught:
        authorize(principal(Role.OFFICER, "dl"), Action.READ, ["vn"])
    assert rules(caught.value) == [("union_id", "scope")]


def test_scope_compares_whole_ids_not_prefixes() -> None:
    with pytest.raises(Forbidden) as caught:
        authorize(principal(Role.OFFICER, "dl"), Action.READ, ["vn", "dlx", "cdcs"])
    assert rules(caught.value) == [("union_id", "scope")]


def test_a_role_refusal_comes_before_the_scope_check() -> None:
    with pytest.raises(Forbidden) as caught:
        authorize(principal(Role.VIEWER, "dl"), Action.REVIEW, ["vn", "hn"])
    assert rules(caught.value) == [("authorization", "role")]


# --- transitions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "status"),
    [(ReviewDecision.VALID, Status.VALID), (ReviewDecision.REJECTED, Status.REJECTED)],
)
def test_a_review_moves_a_submitted_initiative_to_its_decision(
    decision: ReviewDecision, status: Status
) -> None:
    assert after_review(Status.SUBMITTED, decision) == status


@pytest.mark.parametrize("current", [Status.VALID, Status.REJECTED, Status.WITHDRAWN])
@pytest.mark.parametrize("decision", list(ReviewDecision))
def test_only_a_submitted_initiative_can_be_reviewed(
    current: Status, decision: ReviewDecision
) -> None:
    with pytest.raises(Conflict) as caught:
        after_review(current, decision)
    assert rules(caught.value) == [("status", "transition")]


def test_reviewing_a_valid_initiative_is_a_transition_conflict() -> None:
    with pytest.raises(Conflict) as caught:
        after_review(Status.VALID, ReviewDecision.REJECTED)
    assert rules(caught.value) == [("status", "transition")]


def test_a_submitted_initiative_can_be_withdrawn() -> None:
    assert after_withdrawal(Status.SUBMITTED) == Status.WITHDRAWN


@pytest.mark.parametrize("current", [Status.VALID, Status.REJECTED, Status.WITHDRAWN])
def test_only_a_submitted_initiative_can_be_withdrawn(current: Status) -> None:
    with pytest.raises(Conflict) as caught:
        after_withdrawal(current)
    assert rules(caught.value) == [("status", "transition")]


# --- registration -----------------------------------------------------------------------------

# The Đắk Lắk 40-day campaign: from 27 April to the end of 31 May 2022, local time.
DAK_LAK = CampaignWindow(
    id="dak-lak-40-ngay",
    organiser_id="dl",
    starts_on=date(2022, 4, 27),
    ends_on=date(2022, 5, 31),
    eligible_from=date(2021, 1, 1),
    eligible_to=date(2022, 5, 31),
    timezone="Asia/Ho_Chi_Minh",
)
CDCS_PATH = ["vn", "dl", "bmt", "cdcs"]


def register(**overrides: object) -> None:
    """check_registration with a registration that passes, changed by ``overrides``."""
    arguments: dict[str, object] = {
        "campaign": DAK_LAK,
        "unit_level": GRASSROOTS,
        "unit_path": CDCS_PATH,
        "submitted_at": datetime(2022, 5, 10, 9, 0, tzinfo=VN_TZ),
        "application_date": date(2022, 3, 1),
        "recognised_on": date(2022, 4, 15),
    }
    arguments.update(overrides)
    check_registration(**arguments)  # type: ignore[arg-type]


def refusal(**overrides: object) -> list[tuple[str, str]]:
    """The (field, rule) pairs of the InvalidInput a registration gets."""
    with pytest.raises(InvalidInput) as caught:
        register(**overrides)
    return rules(caught.value)


def test_a_registration_that_meets_every_rule_passes() -> None:
    register()


@pytest.mark.parametrize("level", [NATIONAL, PROVINCE, UPPER])
def test_an_initiative_is_registered_only_at_a_grassroots_union(level: UnionLevel) -> None:
    assert refusal(unit_level=level) == [("union_id", "grassroots")]


def test_a_unit_outside_the_organisers_subtree_is_refused_for_the_campaign() -> None:
    assert refusal(unit_path=["vn", "hn", "cdcs-hn"]) == [("campaign_id", "scope")]


def test_late_evening_of_the_last_day_local_time_is_inside_the_campaign() -> None:
    register(submitted_at=datetime(2022, 5, 31, 23, 30, tzinfo=VN_TZ))


def test_an_instant_that_is_the_next_day_local_time_is_outside_the_campaign() -> None:
    # 17:30 UTC on 31 May is 00:30 on 1 June in Asia/Ho_Chi_Minh.
    submitted_at = datetime(2022, 5, 31, 17, 30, tzinfo=UTC)
    assert refusal(submitted_at=submitted_at) == [("submitted_at", "campaign_running")]


def test_midnight_local_time_on_the_first_day_is_inside_the_campaign() -> None:
    register(submitted_at=datetime(2022, 4, 26, 17, 0, tzinfo=UTC))


def test_a_minute_before_the_first_day_local_time_is_outside_the_campaign() -> None:
    submitted_at = datetime(2022, 4, 26, 16, 59, tzinfo=UTC)
    assert refusal(submitted_at=submitted_at) == [("submitted_at", "campaign_running")]


@pytest.mark.parametrize("application_date", [date(2020, 12, 31), date(2022, 6, 1)])
def test_an_application_date_outside_the_eligibility_window_is_refused(
    application_date: date,
) -> None:
    assert refusal(application_date=application_date) == [
        ("application_date", "eligibility_window")
    ]


@pytest.mark.parametrize("application_date", [date(2021, 1, 1), date(2022, 5, 31)])
def test_the_eligibility_window_includes_both_ends(application_date: date) -> None:
    register(application_date=application_date)


def test_an_initiative_recognised_after_its_submission_is_refused() -> None:
    assert refusal(recognised_on=date(2022, 5, 11)) == [("recognised_on", "not_after_submission")]


def test_recognition_on_the_local_day_of_submission_is_accepted() -> None:
    # 18:00 UTC on 10 May is already 11 May in Asia/Ho_Chi_Minh.
    register(submitted_at=datetime(2022, 5, 10, 18, 0, tzinfo=UTC), recognised_on=date(2022, 5, 11))


def test_a_registration_is_refused_for_its_first_broken_rule() -> None:
    assert refusal(unit_level=UPPER, unit_path=["vn", "hn", "x"]) == [("union_id", "grassroots")]


# --- duplicates -------------------------------------------------------------------------------

LONG_TITLE = "Cải tiến quy trình tiếp nhận và trả kết quả hồ sơ tại bộ phận một cửa của phường"


def test_titles_differing_in_diacritics_case_and_punctuation_normalise_equal() -> None:
    assert normalize_title("Cải tiến quy trình tiếp nhận hồ sơ") == normalize_title(
        "cai tien quy trinh tiep nhan ho so."
    )
    assert normalize_title("Cải tiến quy trình tiếp nhận hồ sơ") == (
        "cai tien quy trinh tiep nhan ho so"
    )


def test_normalising_turns_d_with_stroke_into_d() -> None:
    assert normalize_title("Đổi mới đào tạo") == "doi moi dao tao"


def test_normalising_collapses_punctuation_and_spaces_into_single_spaces() -> None:
    assert normalize_title("  Tiết kiệm   điện,nước!  ") == "tiet kiem dien nuoc"


def test_a_long_title_with_one_word_changed_is_a_likely_duplicate() -> None:
    title = normalize_title(LONG_TITLE)
    changed = normalize_title(LONG_TITLE.replace("phường", "xã"))
    candidate = uuid4()
    assert similarity(title, changed) >= SIMILARITY
    assert likely_duplicate(title, [(candidate, changed)]) == candidate


def test_a_long_title_with_one_word_added_is_a_likely_duplicate() -> None:
    title = normalize_title(LONG_TITLE)
    longer = normalize_title(LONG_TITLE.replace("hồ sơ", "hồ sơ điện tử"))
    candidate = uuid4()
    assert similarity(title, longer) >= SIMILARITY
    assert likely_duplicate(title, [(candidate, longer)]) == candidate


def test_an_unrelated_title_is_not_a_likely_duplicate() -> None:
    title = normalize_title(LONG_TITLE)
    unrelated = normalize_title("Ứng dụng phần mềm quản lý kho vật tư y tế")
    assert similarity(title, unrelated) < SIMILARITY
    assert likely_duplicate(title, [(uuid4(), unrelated)]) is None


def test_no_candidates_means_no_likely_duplicate() -> None:
    assert likely_duplicate(normalize_title(LONG_TITLE), []) is None


def test_likely_duplicate_picks_the_most_similar_candidate() -> None:
    title = normalize_title(LONG_TITLE)
    one_word_off, identical, unrelated = uuid4(), uuid4(), uuid4()
    candidates: list[tuple[UUID, str]] = [
        (one_word_off, normalize_title(LONG_TITLE.replace("phường", "xã"))),
        (identical, normalize_title(LONG_TITLE.upper())),
        (unrelated, normalize_title("Ứng dụng phần mềm quản lý kho vật tư y tế")),
    ]
    assert likely_duplicate(title, candidates) == identical
    assert likely_duplicate(title, list(reversed(candidates))) == identical


WORDS = st.sampled_from(["tiet", "kiem", "dien", "nuoc", "va", "so", "hoa", "ho"])
TITLES = st.lists(WORDS, max_size=10).map(" ".join)
# No example database on disk: these tests stay pure.
NO_DATABASE = settings(database=None)


@NO_DATABASE
@given(st.text())
def test_normalize_title_is_idempotent(title: str) -> None:
    once = normalize_title(title)
    assert normalize_title(once) == once


@NO_DATABASE
@given(st.text() | TITLES, st.text() | TITLES)
def test_similarity_is_between_zero_and_one(a: str, b: str) -> None:
    assert 0.0 <= similarity(normalize_title(a), normalize_title(b)) <= 1.0


def test_similarity_of_a_title_with_itself_is_one() -> None:
    title = normalize_title(LONG_TITLE)
    assert similarity(title, title) == 1.0


@NO_DATABASE
@given(TITLES, TITLES)
@example(
    "tiet kiem dien va tiet kiem nuoc trong san xuat",
    "tiet kiem va tiet kiem dien nuoc trong san xuat",
)
def test_similarity_is_symmetric(a: str, b: str) -> None:
    assert similarity(a, b) == similarity(b, a)


def test_whether_titles_are_duplicates_does_not_depend_on_registration_order() -> None:
    first = normalize_title("Tiết kiệm điện và tiết kiệm nước trong sản xuất")
    second = normalize_title("Tiết kiệm và tiết kiệm điện nước trong sản xuất")
    first_id, second_id = uuid4(), uuid4()
    flagged_when_second_comes_later = likely_duplicate(second, [(first_id, first)]) is not None
    flagged_when_first_comes_later = likely_duplicate(first, [(second_id, second)]) is not None
    assert flagged_when_second_comes_later == flagged_when_first_comes_later


# --- person keys ------------------------------------------------------------------------------

SECRET = b"test-person-key-secret-" + b"x" * 24
NAME = "Nguyễn Văn An"


def test_person_key_is_stable_for_the_same_name_and_unit() -> None:
    first = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    again = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    assert first == again


def test_person_key_ignores_diacritics_and_case_of_the_name() -> None:
    written = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    plain = person_key(SECRET, name="nguyen van an", unit_id="cdcs-a", identifier=None)
    assert written == plain


def test_person_key_differs_by_unit_without_an_identifier() -> None:
    in_a = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    in_b = person_key(SECRET, name=NAME, unit_id="cdcs-b", identifier=None)
    assert in_a != in_b


def test_person_key_differs_for_different_names_in_one_unit() -> None:
    an = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    binh = person_key(SECRET, name="Trần Thị Bình", unit_id="cdcs-a", identifier=None)
    assert an != binh


def test_person_key_is_the_same_across_units_for_the_same_identifier() -> None:
    in_a = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier="079123456789")
    in_b = person_key(SECRET, name="Nguyen V. An", unit_id="cdcs-b", identifier="079123456789")
    assert in_a == in_b


def test_person_key_ignores_case_and_surrounding_spaces_of_the_identifier() -> None:
    plain = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier="nv-0042")
    padded = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier="  NV-0042 ")
    assert plain == padded


def test_person_key_differs_with_another_secret() -> None:
    ours = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    theirs = person_key(
        b"another-secret-" + b"y" * 24, name=NAME, unit_id="cdcs-a", identifier=None
    )
    assert ours != theirs


def test_person_key_is_p_dash_and_hex_with_no_part_of_the_name() -> None:
    key = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier=None)
    assert key.startswith("p-")
    assert re.fullmatch(r"p-[0-9a-f]{24}", key)
    for part in [*NAME.casefold().split(), *normalize_title(NAME).split()]:
        assert part not in key


def test_two_authors_with_a_blank_identifier_are_not_one_person() -> None:
    an = person_key(SECRET, name=NAME, unit_id="cdcs-a", identifier="  ")
    binh = person_key(SECRET, name="Trần Thị Bình", unit_id="cdcs-b", identifier="  ")
    assert an != binh
