"""What a head reads in a digest, in Vietnamese: labels, column headers and one line per unit.
Pure; the email, the webhook and the Excel file all take their words from here."""

from __future__ import annotations

from shared.pace import PaceStatus, zone

from .digest import Digest, DigestLine, PeriodKind
from .messages import number, percent
from .rules import Standing

STATUS_LABELS = {
    PaceStatus.ON_TRACK: "Đạt tiến độ",
    PaceStatus.BEHIND: "Chậm tiến độ",
    PaceStatus.CRITICAL: "Chậm nghiêm trọng",
    PaceStatus.NOT_STARTED: "Chưa bắt đầu",
}
MEETINGS = {PeriodKind.WEEK: "giao ban tuần", PeriodKind.MONTH: "giao ban tháng"}
NEW = "mới"

Columns = tuple[tuple[str, str], ...]
"""A table's columns: the JSON field and the header the Excel sheet and the email show."""

RANKING_COLUMNS: Columns = (
    ("rank", "Hạng"),
    ("rank_change", "Thay đổi hạng"),
    ("union_id", "Mã đơn vị"),
    ("name", "Đơn vị"),
    ("counted", "Số sáng kiến tính chỉ tiêu"),
    ("target", "Chỉ tiêu"),
    ("percentage", "Tỷ lệ hoàn thành (%)"),
    ("expected", "Cần đạt theo tiến độ"),
    ("gap", "Còn thiếu so với tiến độ"),
    ("status_label", "Tình trạng"),
    ("gained", "Tăng so với kỳ trước"),
    ("registered", "Đã đăng ký"),
    ("under_review", "Đang xem xét"),
    ("waiting_too_long", "Chờ duyệt quá hạn"),
)
LAGGARD_COLUMNS: Columns = (
    ("rank", "Hạng"),
    ("union_id", "Mã đơn vị"),
    ("name", "Đơn vị"),
    ("counted", "Số sáng kiến tính chỉ tiêu"),
    ("target", "Chỉ tiêu"),
    ("expected", "Cần đạt theo tiến độ"),
    ("gap", "Còn thiếu so với tiến độ"),
    ("status_label", "Tình trạng"),
    ("needed_per_day", "Cần mỗi ngày"),
)
NO_INITIATIVE_COLUMNS: Columns = (
    ("rank", "Hạng"),
    ("union_id", "Mã đơn vị"),
    ("name", "Đơn vị"),
    ("target", "Chỉ tiêu"),
)
BACKLOG_COLUMNS: Columns = (
    ("union_id", "Mã đơn vị"),
    ("name", "Đơn vị"),
    ("under_review", "Đang xem xét"),
    ("waiting_too_long", "Chờ duyệt quá hạn"),
)
# The digest's lists (JSON field) and their sheets' names (31 characters at most in Excel).
TABLES = (
    ("units", "Xếp hạng", RANKING_COLUMNS),
    ("laggards", "Chậm tiến độ", LAGGARD_COLUMNS),
    ("no_initiative", "Chưa có sáng kiến", NO_INITIATIVE_COLUMNS),
    ("review_backlog", "Tồn đọng xét duyệt", BACKLOG_COLUMNS),
)


def status_label(unit: Standing) -> str:
    """The pace status in words."""
    return STATUS_LABELS[unit.status]


def rank_change_text(line: DigestLine) -> str:
    """``↑2``, ``↓1``, ``=`` or ``mới`` (not in the last digest)."""
    change = line.rank_change
    if change is None:
        return NEW
    if change > 0:
        return f"↑{change}"
    return f"↓{-change}" if change < 0 else "="


def subject(digest: Digest) -> str:
    """The email's subject line."""
    return (
        f"[Sáng kiến] {digest.campaign_name}: bản tin {digest.period.label} "
        f"— {digest.recipient_name}"
    )


def intro(digest: Digest) -> str:
    """The sentence that opens the digest: for which meeting, of which union, as of when."""
    local = digest.at.astimezone(zone(digest.timezone))
    return (
        f"Bản tin {digest.period.label} phục vụ {MEETINGS[digest.period.kind]} của "
        f"{digest.recipient_name}, chiến dịch {digest.campaign_name}, số liệu đến "
        f"{local:%H:%M} ngày {local:%d/%m/%Y}."
    )


def comparison(digest: Digest) -> str:
    """What the rank changes are measured against."""
    if digest.compared_with is None:
        return "Đây là bản tin đầu tiên: chưa có hạng kỳ trước để so sánh."
    word = "tuần" if digest.period.kind is PeriodKind.WEEK else "tháng"
    return (
        f"Thay đổi hạng so với bản tin {word} trước (kỳ bắt đầu {digest.compared_with:%d/%m/%Y})."
    )


def total_line(digest: Digest) -> str | None:
    """The recipient's own numbers, when it has a target."""
    unit = digest.total
    if unit is None:
        return None
    return (
        f"Toàn {digest.recipient_name}: {_where(unit)}, cần đạt {number(unit.expected)} theo "
        f"tiến độ; {number(unit.under_review)} sáng kiến đang xem xét."
    )


def ranking_line(line: DigestLine) -> str:
    """``1. CĐCS …: 55/60 sáng kiến (91,67%), Đạt tiến độ; hạng ↑1, tăng 5.``"""
    unit = line.unit
    change = rank_change_text(line)
    text = f"{line.rank}. {unit.name}: {_where(unit)}, {status_label(unit)}; hạng {change}"
    if line.gained is not None:
        # A count can fall: registered ones withdrawn before their review.
        text += f", {'giảm' if line.gained < 0 else 'tăng'} {number(abs(line.gained))}"
    return text + "."


def laggard_line(line: DigestLine) -> str:
    """A lagging unit: how far short of the pace, and what it needs a day."""
    unit = line.unit
    text = f"{unit.name}: {_where(unit)}, chậm {number(unit.gap)} so với tiến độ"
    if unit.needed_per_day:
        text += (
            f"; cần {number(unit.needed_per_day)} sáng kiến mỗi ngày trong "
            f"{number(unit.days_left)} ngày còn lại"
        )
    return text + "."


def no_initiative_line(line: DigestLine) -> str:
    """A unit that has registered nothing yet."""
    return f"{line.unit.name} (chỉ tiêu {number(line.unit.target)})."


def backlog_line(line: DigestLine, limit_days: int) -> str:
    """A unit's initiatives waiting for review."""
    unit = line.unit
    return (
        f"{unit.name}: {number(unit.under_review)} đang xem xét, "
        f"{number(unit.waiting_too_long)} chờ quá {limit_days} ngày."
    )


def _where(unit: Standing) -> str:
    return f"{number(unit.counted)}/{number(unit.target)} sáng kiến ({percent(unit.percentage)})"
