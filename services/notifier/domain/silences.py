"""Silences: a head or an admin asks not to hear of a unit (or a subtree) for a while. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.events import AlertRule


@dataclass(frozen=True)
class SilenceRule:
    """What one silence covers, and when."""

    unit_id: str
    subtree: bool  # also every unit below unit_id
    rule: AlertRule | None  # None: every rule
    campaign_id: str | None  # None: every campaign
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        """In force at ``now``."""
        return self.starts_at <= now < self.ends_at

    def covers(self, campaign_id: str, unit_path: Sequence[str], rule: AlertRule) -> bool:
        """Whether an alert of ``rule`` for the unit at the end of ``unit_path`` is covered."""
        if self.campaign_id is not None and self.campaign_id != campaign_id:
            return False
        if self.rule is not None and self.rule != rule:
            return False
        if self.subtree:
            return self.unit_id in unit_path
        return bool(unit_path) and unit_path[-1] == self.unit_id


def silenced(
    silences: Iterable[SilenceRule],
    *,
    campaign_id: str,
    unit_path: Sequence[str],
    rule: AlertRule,
    now: datetime,
) -> bool:
    """Whether any silence in force at ``now`` covers this alert."""
    return any(s.active(now) and s.covers(campaign_id, unit_path, rule) for s in silences)
