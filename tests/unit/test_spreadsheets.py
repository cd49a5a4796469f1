"""Reading uploaded CSV/.xlsx files and mapping their rows to initiative and unit inputs."""

from __future__ import annotations

import codecs
import io
import unicodedata
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook
from pydantic import TypeAdapter, ValidationError

from services.submission.adapters.spreadsheet_columns import (
    CATEGORY_LABELS,
    INITIATIVE_COLUMNS,
    LEVEL_LABELS,
    RECOGNISED_BY_LABELS,
    UNIT_COLUMNS,
    fold,
    parse_count,
)
from services.submission.adapters.spreadsheets import (
    CSV,
    PROBLEMS_KEY,
    XLSX,
    initiative_rows,
    read_table,
    unit_rows,
)
from services.submission.domain.errors import InvalidInput
from services.submission.schemas import InitiativeCreate, UnitCreate

HEADER_VI = [
    "Mã đợt",
    "Mã đơn vị",
    "Tên sáng kiến",
    "Lĩnh vực",
    "Tác giả",
    "Đối tượng",
    "Cấp công nhận",
    "Ngày công nhận",
    "Ngày áp dụng",
    "Giá trị làm lợi (VNĐ)",
]
GOOD_ROW = [
    "dak-lak-2022",
    "cdcs-thpt-buon-ma-thuot",
    "Ứng dụng phần mềm quản lý điểm",
    "Giáo dục",
    "Nguyễn Văn An",
    "Công chức, viên chức",
    "Hội đồng sáng kiến",
    "15/03/2022",
    "01/02/2022",
    "1.500.000",
]
GOOD_INITIATIVE = {
    "campaign_id": "dak-lak-2022",
    "union_id": "cdcs-thpt-buon-ma-thuot",
    "title": "Ứng dụng phần mềm quản lý điểm",
    "field": "Giáo dục",
    "authors": [{"name": "Nguyễn Văn An", "category": "public_service_staff"}],
    "recognised_by": "initiative_council",
    "recognised_on": "2022-03-15",
    "application_date": "2022-02-01",
    "estimated_benefit_vnd": 1500000,
}


def xlsx(*rows: list[Any]) -> bytes:
    """An .xlsx file, built in memory, whose first sheet holds ``rows`` from row 1."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(*rows: list[str], delimiter: str = ",") -> bytes:
    return "\n".join(delimiter.join(row) for row in rows).encode()


def one_initiative(header: list[str], row: list[Any]) -> dict[str, Any]:
    [(_, initiative)] = initiative_rows(read_table(xlsx(header, row), XLSX))
    return initiative


def with_cell(header: str, value: Any) -> dict[str, Any]:
    """The good row's initiative with one more column (or one column's value replaced)."""
    if header in HEADER_VI:
        row = [
            value if name == header else cell
            for name, cell in zip(HEADER_VI, GOOD_ROW, strict=True)
        ]
        return one_initiative(HEADER_VI, row)
    return one_initiative([*HEADER_VI, header], [*GOOD_ROW, value])


def refusal(content: bytes, content_type: str, **kwargs: Any) -> list[tuple[str, str, int | None]]:
    with pytest.raises(InvalidInput) as raised:
        read_table(content, content_type, **kwargs)
    return [(p.field, p.rule, p.row) for p in raised.value.problems]


# --- mapping headers and values --------------------------------------------------------------


def test_vietnamese_headers_map_to_initiative_fields() -> None:
    assert one_initiative(HEADER_VI, GOOD_ROW) == GOOD_INITIATIVE


def test_english_field_names_are_accepted_as_headers() -> None:
    header = [
        "campaign_id",
        "union_id",
        "title",
        "field",
        "authors",
        "author_category",
        "recognised_by",
        "recognised_on",
        "application_date",
        "estimated_benefit_vnd",
    ]
    table = read_table(csv_bytes(header, GOOD_ROW, delimiter=";"), CSV)
    assert initiative_rows(table) == [(2, GOOD_INITIATIVE)]


def test_headers_match_whatever_the_case_diacritics_and_required_marks() -> None:
    header = ["MA ĐOT", "ma don vi", "Tên  sáng\nkiến (*)", *HEADER_VI[3:]]
    assert one_initiative(header, GOOD_ROW) == GOOD_INITIATIVE


def test_good_row_validates_against_initiative_create() -> None:
    initiative = TypeAdapter(InitiativeCreate).validate_python(one_initiative(HEADER_VI, GOOD_ROW))
    assert initiative.recognised_on == date(2022, 3, 15)
    assert initiative.estimated_benefit_vnd == 1_500_000


def test_unknown_columns_are_ignored_and_rows_with_only_them_skipped() -> None:
    content = xlsx([*HEADER_VI, "Ghi chú"], [*GOOD_ROW, "đã nộp bản giấy"], [""] * 10 + ["ghi"])
    assert initiative_rows(read_table(content, XLSX)) == [(2, GOOD_INITIATIVE)]


def test_empty_optional_cells_are_left_out() -> None:
    initiative = one_initiative([*HEADER_VI, "Tóm tắt", "Giải thưởng", "STT"], [*GOOD_ROW, "", ""])
    assert initiative == GOOD_INITIATIVE


def test_optional_columns_map_to_their_fields() -> None:
    header = [*HEADER_VI, "Nội dung tóm tắt", "Giải thưởng", "STT"]
    initiative = one_initiative(header, [*GOOD_ROW, "Tóm tắt ngắn", "Giải nhì", 7])
    assert initiative == GOOD_INITIATIVE | {
        "summary": "Tóm tắt ngắn",
        "award": "Giải nhì",
        "external_ref": "7",
    }


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("15/03/2022", "2022-03-15"),
        ("3/5/2022", "2022-05-03"),
        ("03-05-2022", "2022-05-03"),
        ("2022-05-03", "2022-05-03"),
        ("31/02/2022", "31/02/2022"),  # no such day: left for validation to name
        ("03/15/2022", "03/15/2022"),  # US order is never read
    ],
)
def test_day_first_dates_become_iso(written: str, read: str) -> None:
    assert with_cell("Ngày công nhận", written)["recognised_on"] == read


def test_excel_dates_become_iso_dates() -> None:
    initiative = with_cell("Ngày áp dụng", datetime(2022, 2, 1))
    assert initiative["application_date"] == "2022-02-01"


def test_impossible_date_is_reported_by_validation_on_its_field() -> None:
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(InitiativeCreate).validate_python(with_cell("Ngày công nhận", "31/02/2022"))
    assert [error["loc"] for error in raised.value.errors()] == [("recognised_on",)]


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("1.500.000", 1500000),
        ("1,500,000", 1500000),
        ("1500000", 1500000),
        ("1 500 000", 1500000),
        ("1.500.000 đ", 1500000),
        ("1.500.000 VNĐ", 1500000),
        (1500000, 1500000),
        (1500000.0, 1500000),
        ("1.5", "1.5"),  # not a thousands grouping: shown to the user, not guessed at
    ],
)
def test_money_formats_become_whole_dong(written: Any, amount: int | str) -> None:
    assert with_cell("Giá trị làm lợi (VNĐ)", written)["estimated_benefit_vnd"] == amount


@given(
    amount=st.integers(min_value=0, max_value=10**15),
    separator=st.sampled_from([".", ",", " ", "\u00a0"]),
)
def test_any_amount_grouped_by_thousands_reads_back(amount: int, separator: str) -> None:
    assert parse_count(f"{amount:,}".replace(",", separator) + " đ") == amount


def test_empty_money_cell_is_left_out() -> None:
    assert "estimated_benefit_vnd" not in with_cell("Giá trị làm lợi (VNĐ)", None)


def test_submitted_date_is_eight_in_the_morning_in_vietnam() -> None:
    assert with_cell("Ngày nộp", "10/03/2022")["submitted_at"] == "2022-03-10T08:00:00+07:00"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2022-03-10T14:30:00", "2022-03-10T14:30:00+07:00"),
        ("2022-03-10T14:30:00+00:00", "2022-03-10T14:30:00+00:00"),
        (datetime(2022, 3, 10, 14, 30), "2022-03-10T14:30:00+07:00"),
    ],
)
def test_submitted_datetime_kept_and_naive_ones_taken_as_vietnam_time(
    written: Any, read: str
) -> None:
    assert with_cell("Ngày đăng ký", written)["submitted_at"] == read


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Thủ trưởng đơn vị", "head_of_agency"),
        ("hội đồng", "initiative_council"),
        ("head_of_agency", "head_of_agency"),
    ],
)
def test_recognising_body_labels_become_codes(written: str, code: str) -> None:
    assert with_cell("Cấp công nhận", written)["recognised_by"] == code


def test_several_authors_get_their_own_categories_and_identifiers() -> None:
    header = [*HEADER_VI, "Mã định danh"]
    row = [*GOOD_ROW, "ID-1;;ID-3"]
    row[4:6] = ["Nguyễn Văn An; Trần Thị Bình\nLê Văn Cường", "CCVC; CNLĐ; Cán bộ công đoàn"]
    assert one_initiative(header, row)["authors"] == [
        {"name": "Nguyễn Văn An", "category": "public_service_staff", "identifier": "ID-1"},
        {"name": "Trần Thị Bình", "category": "enterprise_worker"},
        {"name": "Lê Văn Cường", "category": "union_official", "identifier": "ID-3"},
    ]


def test_one_category_applies_to_every_author() -> None:
    authors = with_cell("Tác giả", "Nguyễn Văn An; Trần Thị Bình")["authors"]
    assert [author["category"] for author in authors] == ["public_service_staff"] * 2


def test_category_count_mismatch_is_a_row_problem() -> None:
    row = [*GOOD_ROW]
    row[4:6] = ["An; Bình; Cường", "CCVC; Khác"]
    [(number, initiative)] = initiative_rows(read_table(xlsx(HEADER_VI, row), XLSX))
    problems = initiative[PROBLEMS_KEY]
    assert [(p.field, p.rule, p.row) for p in problems] == [
        ("author_category", "count_mismatch", number)
    ]


def test_unknown_category_is_kept_so_validation_names_the_author() -> None:
    initiative = with_cell("Đối tượng", "Hưu trí")
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(InitiativeCreate).validate_python(initiative)
    assert [error["loc"] for error in raised.value.errors()] == [("authors", 0, "category")]


def test_labels_fold_to_distinct_codes_and_headers_to_distinct_fields() -> None:
    for table in (INITIATIVE_COLUMNS, UNIT_COLUMNS, CATEGORY_LABELS, RECOGNISED_BY_LABELS):
        folded = [fold(name) for key, names in table.items() for name in (*names, key)]
        assert len(folded) == len(set(folded))
    folded_levels = [fold(name) for names in LEVEL_LABELS.values() for name in names]
    assert len(folded_levels) == len(set(folded_levels))


# --- reading files ---------------------------------------------------------------------------


def test_semicolon_delimited_csv_is_read() -> None:
    content = "Tên sáng kiến;Lĩnh vực\nCải tiến A, B;Cơ khí\n".encode()
    assert read_table(content, CSV) == [
        (2, {"tên sáng kiến": "Cải tiến A, B", "lĩnh vực": "Cơ khí"})
    ]


def test_csv_with_bom_reads_its_first_header() -> None:
    content = codecs.BOM_UTF8 + "Mã đợt,Tên sáng kiến\r\ndak-lak-2022,Máy A\r\n".encode()
    assert read_table(content, "text/csv; charset=utf-8") == [
        (2, {"mã đợt": "dak-lak-2022", "tên sáng kiến": "Máy A"})
    ]


def test_csv_cells_are_stripped() -> None:
    assert read_table(b"a,b\n  x ,\ty\n", CSV) == [(2, {"a": "x", "b": "y"})]


def test_decomposed_vietnamese_title_comes_back_nfc() -> None:
    title = "Cải tiến quy trình kiểm định"
    content = unicodedata.normalize("NFD", f"Tên sáng kiến\n{title}\n").encode()
    [(_, cells)] = read_table(content, CSV)
    assert cells == {"tên sáng kiến": unicodedata.normalize("NFC", title)}


def test_empty_rows_are_skipped_and_row_numbers_match_the_spreadsheet() -> None:
    content = xlsx(["Tên sáng kiến", "Lĩnh vực"], ["A", "x"], [None, None], ["", " "], ["B", "y"])
    assert [number for number, _ in read_table(content, XLSX)] == [2, 5]


def test_csv_row_numbers_count_rows_not_lines() -> None:
    content = 'Tên sáng kiến,Tác giả\nA,"An\nBình"\n\nB,Cường\n'.encode()
    assert [number for number, _ in read_table(content, CSV)] == [2, 4]


def test_excel_numbers_and_dates_become_text() -> None:
    content = xlsx(["a", "b", "c", "d"], [42, 1500000.0, 2.5, date(2022, 3, 15)])
    assert read_table(content, XLSX) == [
        (2, {"a": "42", "b": "1500000", "c": "2.5", "d": "2022-03-15"})
    ]


def test_formula_cell_is_refused_with_its_row_and_column() -> None:
    content = xlsx(["Tên sáng kiến", "Giá trị làm lợi"], ["A", 1000], ["B", "=B2*2"])
    assert refusal(content, XLSX) == [("B", "no_formulas", 3)]


def test_file_that_is_not_utf8_is_refused_naming_the_byte() -> None:
    # "Máy" as a Windows-1258 (or Latin-1) export writes it: á is the single byte 0xE1.
    content = "Mã đợt,Tên sáng kiến\n".encode() + b"dak-lak-2022,M\xe1y\n"
    with pytest.raises(InvalidInput) as raised:
        read_table(content, CSV)
    [problem] = raised.value.problems
    offset = content.index(b"\xe1y")
    assert (problem.field, problem.rule) == ("file", "utf8")
    assert f"0xE1 at offset {offset} (line 2)" in problem.message


def test_missing_required_columns_are_all_listed() -> None:
    table = read_table(csv_bytes(["Tên sáng kiến", "Ghi chú"], ["A", "x"]), CSV)
    with pytest.raises(InvalidInput) as raised:
        initiative_rows(table)
    problems = raised.value.problems
    assert {p.field for p in problems} == {
        "campaign_id",
        "union_id",
        "field",
        "authors",
        "recognised_by",
        "recognised_on",
        "application_date",
    }
    assert {p.rule for p in problems} == {"required_column"}
    assert "'Mã đơn vị'" in next(p.message for p in problems if p.field == "union_id")


def test_two_columns_for_one_field_are_refused() -> None:
    table = read_table(xlsx([*HEADER_VI, "title"], [*GOOD_ROW, "B"]), XLSX)
    with pytest.raises(InvalidInput) as raised:
        initiative_rows(table)
    assert [(p.field, p.rule) for p in raised.value.problems] == [("title", "duplicate_column")]


def test_header_only_file_maps_to_no_rows() -> None:
    table = read_table(csv_bytes(HEADER_VI), CSV)
    assert (table, initiative_rows(table), unit_rows(table)) == ([], [], [])


def test_duplicate_header_names_are_refused() -> None:
    assert refusal(b"a,b,A \n1,2,3\n", CSV) == [("file", "duplicate_header", 1)]


def test_file_without_header_row_is_refused() -> None:
    assert refusal(b"", CSV) == [("file", "header", 1)]
    assert refusal(xlsx([None, None], ["A", "B"]), XLSX) == [("file", "header", 1)]


def test_more_rows_than_the_limit_are_refused() -> None:
    content = csv_bytes(["a"], ["1"], ["2"], ["3"])
    assert refusal(content, CSV, max_rows=2) == [("file", "max_rows", 4)]
    assert len(read_table(content, CSV, max_rows=3)) == 3


def test_file_that_is_not_xlsx_is_refused() -> None:
    assert refusal(b"PK\x03\x04 not really a zip", XLSX) == [("file", "xlsx", None)]


# --- units -----------------------------------------------------------------------------------


def test_unit_rows_produce_valid_unit_create_with_nested_head() -> None:
    header = ["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên", "Cấp", "Ngành", "Khối thi đua"]
    header += ["Số đoàn viên", "Chủ tịch", "Email", "Kênh cảnh báo"]
    row = ["CDCS-THPT-BUON-MA-THUOT", "CĐCS Trường THPT Buôn Ma Thuột", "cd-giao-duc-dak-lak"]
    row += ["CĐCS", "Giáo dục", "Khối trường học", "1.250", "Trần Văn Bình"]
    row += ["binh@example.vn", "email; kafka"]
    [(number, unit)] = unit_rows(read_table(xlsx(header, row), XLSX))
    created = TypeAdapter(UnitCreate).validate_python(unit)
    assert number == 2
    assert (created.id, created.level, created.members) == (
        "cdcs-thpt-buon-ma-thuot",
        "grassroots",
        1250,
    )
    assert created.head is not None
    assert (created.head.name, created.head.alert_channels) == ("Trần Văn Bình", ["email", "kafka"])


@pytest.mark.parametrize(
    ("written", "level"),
    [
        ("Tổng Liên đoàn", "national"),
        ("LĐLĐ tỉnh", "province"),
        ("Cấp trên trực tiếp cơ sở", "upper_level"),
        ("upper_level", "upper_level"),
    ],
)
def test_unit_level_labels_become_codes(written: str, level: str) -> None:
    table = read_table(csv_bytes(["id", "name", "level"], ["u", "U", written]), CSV)
    assert unit_rows(table) == [(2, {"id": "u", "name": "U", "level": level})]


def test_unit_without_head_cells_has_no_head() -> None:
    table = read_table(csv_bytes(["id", "name", "level", "Chủ tịch"], ["u", "U", "Cơ sở", ""]), CSV)
    assert unit_rows(table) == [(2, {"id": "u", "name": "U", "level": "grassroots"})]


def test_unit_import_missing_required_columns_is_refused() -> None:
    table = read_table(csv_bytes(["Tên đơn vị", "Ngành"], ["U", "Y tế"]), CSV)
    with pytest.raises(InvalidInput) as raised:
        unit_rows(table)
    assert [(p.field, p.rule) for p in raised.value.problems] == [
        ("id", "required_column"),
        ("level", "required_column"),
    ]
