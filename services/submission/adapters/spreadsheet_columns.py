"""The columns and cell values of uploaded spreadsheets, as support teams write them.

Headers and labels are matched after ``fold``: case, diacritics, punctuation and spacing do not
matter, so "Tên sáng kiến (*)", "TEN SANG KIEN" and "title" name the same column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from services.submission.domain.errors import InvalidInput, Problem
from shared.events import AlertChannel, AuthorCategory, RecognisedBy, UnionLevel

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# A paper form dated but not timed: 08:00, the start of the office day, keeps the instant on
# the same calendar day in Vietnam and in UTC.
FORM_TIME = time(8, 0)

# field -> accepted headers; the field's own (English) name is always accepted too.
INITIATIVE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "campaign_id": ("Mã đợt", "Đợt thi đua"),
    "union_id": ("Mã đơn vị", "Đơn vị"),
    "title": ("Tên sáng kiến",),
    "summary": ("Tóm tắt", "Nội dung tóm tắt"),
    "field": ("Lĩnh vực",),
    "authors": ("Tác giả",),
    "author_category": ("Đối tượng", "Đối tượng tác giả"),
    "author_identifier": ("Mã định danh",),
    "recognised_by": ("Cấp công nhận", "Đơn vị công nhận"),
    "recognised_on": ("Ngày công nhận",),
    "application_date": ("Ngày áp dụng", "Ngày áp dụng lần đầu"),
    "estimated_benefit_vnd": ("Giá trị làm lợi", "Giá trị làm lợi (VNĐ)", "Giá trị làm lợi (đồng)"),
    "award": ("Giải thưởng",),
    "external_ref": ("Mã", "Số thứ tự", "STT"),
    "submitted_at": ("Ngày nộp", "Ngày đăng ký"),
}
INITIATIVE_REQUIRED = (
    "campaign_id",
    "union_id",
    "title",
    "field",
    "authors",
    "recognised_by",
    "recognised_on",
    "application_date",
)
UNIT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "id": ("Mã đơn vị",),
    "name": ("Tên đơn vị",),
    "parent_id": ("Mã đơn vị cấp trên",),
    "level": ("Cấp",),
    "sector": ("Ngành",),
    "emulation_cluster": ("Cụm thi đua", "Khối thi đua"),
    "members": ("Số đoàn viên",),
    "head_name": ("Chủ tịch", "Người đứng đầu"),
    "head_email": ("Email", "E-mail"),
    "head_webhook_url": ("Webhook",),
    "head_alert_channels": ("Kênh cảnh báo",),
}
UNIT_REQUIRED = ("id", "name", "level")

# code -> labels; the code itself is always accepted too.
CATEGORY_LABELS: Mapping[str, tuple[str, ...]] = {
    AuthorCategory.PUBLIC_SERVICE_STAFF: ("Công chức, viên chức", "CCVC", "công chức", "viên chức"),
    AuthorCategory.ENTERPRISE_WORKER: (
        "Công nhân",
        "Người lao động",
        "Công nhân, người lao động",
        "CNLĐ",
        "NLĐ",
    ),
    AuthorCategory.UNION_OFFICIAL: ("Cán bộ công đoàn", "CBCĐ"),
    AuthorCategory.OTHER: ("Khác",),
}
RECOGNISED_BY_LABELS: Mapping[str, tuple[str, ...]] = {
    RecognisedBy.INITIATIVE_COUNCIL: ("Hội đồng sáng kiến", "Hội đồng"),
    RecognisedBy.HEAD_OF_AGENCY: ("Thủ trưởng cơ quan", "Thủ trưởng đơn vị", "Thủ trưởng"),
}
LEVEL_LABELS: Mapping[str, tuple[str, ...]] = {
    UnionLevel.NATIONAL: ("Tổng Liên đoàn", "Trung ương"),
    UnionLevel.PROVINCE: ("Tỉnh", "LĐLĐ tỉnh", "Công đoàn ngành trung ương"),
    UnionLevel.UPPER_LEVEL: ("Cấp trên trực tiếp cơ sở", "Cấp trên cơ sở", "Huyện"),
    UnionLevel.GRASSROOTS: ("Cơ sở", "CĐCS", "Công đoàn cơ sở"),
}
CHANNEL_LABELS: Mapping[str, tuple[str, ...]] = {
    AlertChannel.EMAIL: ("E-mail", "Thư điện tử"),
    AlertChannel.WEBHOOK: (),
    AlertChannel.KAFKA: (),
}

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURRENCY = re.compile(r"\s*(?:vnđ|vnd|đồng|đ|₫)\.?$", re.IGNORECASE)
# Thousands grouped by one separator used throughout: "1.500.000", "1,500,000", "1 500 000".
_GROUPED = re.compile(r"\d{1,3}(?:([., ])\d{3})(?:\1\d{3})*")


def fold(text: str) -> str:
    """``text`` without case, diacritics, punctuation or repeated spaces, for matching."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")
    return " ".join(re.sub(r"[\W_]+", " ", bare).split())


def lookup(labels: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """A table from each folded label (and folded code) to its code."""
    table = {fold(label): str(code) for code, names in labels.items() for label in names}
    return table | {fold(str(code)): str(code) for code in labels}


_CATEGORIES = lookup(CATEGORY_LABELS)
_RECOGNISERS = lookup(RECOGNISED_BY_LABELS)
_LEVELS = lookup(LEVEL_LABELS)
_CHANNELS = lookup(CHANNEL_LABELS)


def category_code(text: str) -> str:
    """The author category a label means, or the text itself for validation to refuse."""
    return _CATEGORIES.get(fold(text), text)


def recogniser_code(text: str) -> str:
    """The recognising body a label means, or the text itself."""
    return _RECOGNISERS.get(fold(text), text)


def level_code(text: str) -> str:
    """The union level a label means, or the text itself."""
    return _LEVELS.get(fold(text), text)


def channel_codes(text: str) -> list[str]:
    """The alert channels of a comma/semicolon separated list; unknown ones kept as written."""
    return [_CHANNELS.get(fold(part), part) for part in split_list(text, r"[,;\n]")]


def split_list(text: str, separators: str = r"[;\n]") -> list[str]:
    """The non-empty items of a cell listing several values."""
    return [part.strip() for part in re.split(separators, text) if part.strip()]


def split_positional(text: str) -> list[str]:
    """Items in place, blanks kept (";;" leaves a gap), trailing blanks dropped."""
    parts = [part.strip() for part in re.split(r"[;\n]", text)]
    while parts and not parts[-1]:
        parts.pop()
    return parts


def _date(text: str) -> date | datetime | None:
    dmy = _DMY.fullmatch(text)
    try:
        if dmy:
            day, month, year = (int(g) for g in dmy.groups()[:3])
            if dmy.group(4) is None:
                return date(year, month, day)
            hour, minute, second = (int(g or 0) for g in dmy.groups()[3:])
            return datetime(year, month, day, hour, minute, second)
        if _ISO_START.match(text):
            moment = datetime.fromisoformat(text)
            return moment.date() if len(text) == 10 else moment
    except ValueError:
        return None
    return None


def parse_date(text: str) -> str:
    """ISO date from "dd/mm/yyyy" (never US order) or ISO; the text itself when it is neither."""
    value = _date(text)
    if isinstance(value, datetime):
        # A time typed with the date ("2022-05-03 10:00") still names the day; an offset would
        # make the day depend on the zone, so that is left for validation to refuse.
        return value.date().isoformat() if value.tzinfo is None else text
    return value.isoformat() if value is not None else text


def parse_moment(text: str) -> str:
    """ISO datetime with offset: a bare date is 08:00 in Vietnam, a naive time is Vietnam's."""
    value = _date(text)
    if value is None:
        return text
    if not isinstance(value, datetime):
        value = datetime.combine(value, FORM_TIME)
    return (value if value.tzinfo else value.replace(tzinfo=VIETNAM)).isoformat()


def parse_count(text: str) -> int | str:
    """An amount in đồng (or a head count), thousands grouped by '.', ',' or ' '; else the text."""
    body = _CURRENCY.sub("", " ".join(text.split()))
    # No decimal đồng exist, so a separator is always a thousands one; a group that is not
    # three digits ("1.5") is a mistake to show the user, not a fraction to guess at.
    if body.isdigit() or _GROUPED.fullmatch(body):
        return int(re.sub(r"\D", "", body))
    return text


def resolve_columns(
    headers: Iterable[str], columns: Mapping[str, tuple[str, ...]], required: Iterable[str]
) -> dict[str, str]:
    """Field -> header for the headers this import knows; missing or doubled columns refused."""
    known = {
        fold(alias): field for field, aliases in columns.items() for alias in (*aliases, field)
    }
    found: dict[str, list[str]] = {}
    for header in headers:
        if (field := known.get(fold(header))) is not None:
            found.setdefault(field, []).append(header)
    problems = [
        Problem(field, "duplicate_column", f"one column for {field}, not {names}", 1)
        for field, names in found.items()
        if len(names) > 1
    ]
    problems += [
        Problem(
            field, "required_column", f"no {field} column: name one {_accepted(columns, field)}", 1
        )
        for field in required
        if field not in found
    ]
    if problems:
        raise InvalidInput(*problems)
    return {field: names[0] for field, names in found.items()}


def _accepted(columns: Mapping[str, tuple[str, ...]], field: str) -> str:
    return "of " + ", ".join(repr(name) for name in (*columns.get(field, ()), field))
