"""What a head reads, in Vietnamese: one line per notice, and the message's subject. Pure.

The numbers are the ones a head acts on: where the unit is against its target, how far short
of the pace, and what it needs a day to catch up, for example
"CĐCS Trường THPT Buôn Ma Thuột: 12/40 sáng kiến (30%), chậm 9 so với tiến độ; cần 4 sáng
kiến mỗi ngày trong 7 ngày còn lại."
"""

from __future__ import annotations

from shared.events import AlertRule

from .grouping import Message, Notice
from .lifecycle import NoticeKind
from .rules import Standing


def number(value: float, decimals: int = 0) -> str:
    """Vietnamese digits: 2.500 and 27,84 (dot for thousands, comma for decimals)."""
    text = f"{value:,.{decimals}f}"
    if decimals:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(value: float) -> str:
    """27,84% (at most two decimals)."""
    return f"{number(value, 2)}%"


def line(notice: Notice) -> str:
    """One sentence about one alert of one unit."""
    unit = notice.unit
    if notice.rule is AlertRule.REVIEW_BACKLOG:
        return _backlog_line(unit, notice.kind)
    where = f"{number(unit.counted)}/{number(unit.target)} sáng kiến ({percent(unit.percentage)})"
    if notice.kind is NoticeKind.RESOLVED:
        if notice.rule is AlertRule.CRITICAL:
            return f"{unit.name}: đã ra khỏi mức nghiêm trọng, {where}."
        return f"{unit.name}: đã bắt kịp tiến độ, {where}."
    if notice.kind is NoticeKind.DEESCALATED:
        return f"{unit.name} (đơn vị trực thuộc): đã ra khỏi mức nghiêm trọng, {where}."
    severity = " (mức nghiêm trọng)" if notice.rule is AlertRule.CRITICAL else ""
    body = f"{where}, chậm {number(unit.gap)} so với tiến độ{severity}; {_need(unit)}"
    if notice.kind is NoticeKind.ESCALATED:
        return f"{unit.name} (đơn vị trực thuộc) ở mức nghiêm trọng kéo dài: {body}"
    return f"{unit.name}: {body}"


def _need(unit: Standing) -> str:
    if unit.needed_per_day is None:
        return "không còn ngày nào để bù."
    return (
        f"cần {number(unit.needed_per_day)} sáng kiến mỗi ngày trong "
        f"{number(unit.days_left)} ngày còn lại."
    )


def _backlog_line(unit: Standing, kind: NoticeKind) -> str:
    limit = unit.backlog_limit_days
    if kind is NoticeKind.RESOLVED:
        return f"{unit.name}: không còn sáng kiến chờ duyệt quá {limit} ngày."
    share = (
        # Whole percents, as heads read a backlog: "bằng 11% chỉ tiêu".
        f", bằng {number(100 * unit.waiting_too_long / unit.target)}% chỉ tiêu"
        if unit.target
        else ""
    )
    return (
        f"{unit.name}: {number(unit.waiting_too_long)} sáng kiến chờ duyệt quá {limit} ngày{share}."
    )


def subject(message: Message, campaign_name: str) -> str:
    """The subject line: how many units need attention, or that they caught up."""
    raised = {n.unit.unit_id for n in message.raised}
    if raised:
        return f"[Sáng kiến] {campaign_name}: {len(raised)} đơn vị cần chú ý"
    return f"[Sáng kiến] {campaign_name}: các đơn vị đã cải thiện"
