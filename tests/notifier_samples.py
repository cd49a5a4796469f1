"""A unit's standing for the notifier's unit tests: the issue's school, 12 of 40."""

from __future__ import annotations

from dataclasses import replace

from services.notifier.domain.rules import Standing
from shared.pace import PaceStatus


def school(unit_id: str = "cdcs-thpt-bmt", **changes: object) -> Standing:
    """The issue's school: 12 of 40, 21 expected, 7 days left, 4 a day needed; ``changes``
    replace any of its numbers."""
    base = Standing(
        campaign_id="dak-lak-2022",
        unit_id=unit_id,
        name="CĐCS Trường THPT Buôn Ma Thuột",
        counted=12,
        target=40,
        expected=21.0,
        status=PaceStatus.BEHIND,
        lagging=True,
        days_left=7,
        needed_per_day=4,
        under_review=0,
        waiting_too_long=0,
        backlog_limit_days=7,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
