"""Notices of one evaluation grouped into one message per head, worst first. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from shared.events import AlertRule

from .lifecycle import NoticeKind
from .rules import Standing

# To the parent's head, not the unit's own.
TO_PARENT = (NoticeKind.ESCALATED, NoticeKind.DEESCALATED)
# Firing news first, then escalations, then good news.
KIND_ORDER = {
    NoticeKind.FIRING: 0,
    NoticeKind.REPEAT: 0,
    NoticeKind.ESCALATED: 1,
    NoticeKind.RESOLVED: 2,
    NoticeKind.DEESCALATED: 2,
}


@dataclass(frozen=True)
class Notice:
    """One thing to tell one head about one alert of one unit."""

    recipient_id: str  # the unit whose head is told
    rule: AlertRule
    kind: NoticeKind
    unit: Standing

    @property
    def raised(self) -> bool:
        """Bad news (firing, repeated, escalated), not a resolution."""
        return self.kind not in (NoticeKind.RESOLVED, NoticeKind.DEESCALATED)


@dataclass(frozen=True)
class Message:
    """Everything one head hears from one evaluation of one campaign."""

    campaign_id: str
    recipient_id: str
    notices: tuple[Notice, ...]

    @property
    def raised(self) -> tuple[Notice, ...]:
        """The bad news, largest gap first."""
        return tuple(n for n in self.notices if n.raised)

    @property
    def resolved(self) -> tuple[Notice, ...]:
        """The good news."""
        return tuple(n for n in self.notices if not n.raised)


def recipient_of(unit_id: str, parent_id: str | None, kind: NoticeKind) -> str | None:
    """Whose head hears a notice: the unit's own, or its parent's for an escalation (None: the
    root has no parent to escalate to)."""
    return parent_id if kind in TO_PARENT else unit_id


def group(notices: Iterable[Notice]) -> list[Message]:
    """One message per (campaign, head): bad news first, largest gap first, then backlog."""
    by_head: defaultdict[tuple[str, str], list[Notice]] = defaultdict(list)
    for notice in notices:
        by_head[(notice.unit.campaign_id, notice.recipient_id)].append(notice)
    return [
        Message(campaign_id, recipient, tuple(sorted(found, key=_worst_first)))
        for (campaign_id, recipient), found in sorted(by_head.items())
    ]


def _worst_first(notice: Notice) -> tuple[int, int, int, str]:
    backlog = notice.rule is AlertRule.REVIEW_BACKLOG
    size = notice.unit.waiting_too_long if backlog else notice.unit.gap
    return (KIND_ORDER[notice.kind], int(backlog), -size, notice.unit.unit_id)
