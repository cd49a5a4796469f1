"""The notifier's view of the registry: units with their heads, campaigns and targets, built
from the registry topic's events (event-carried state; no other service's database). Pure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from shared.counters import effective_target
from shared.events import (
    AnyEvent,
    CampaignDefined,
    CampaignDefinedData,
    TargetSet,
    UnionHead,
    UnionUpserted,
)
from shared.pace import campaign_bounds


@dataclass(frozen=True)
class Unit:
    """One union unit as the notifier needs it."""

    id: str
    name: str
    level: str
    parent_id: str | None
    path: tuple[str, ...]  # ids from the root to the unit
    head: UnionHead | None


@dataclass
class Registry:
    """Every unit, campaign and target, as the latest registry records say."""

    units: dict[str, Unit] = field(default_factory=dict)
    campaigns: dict[str, CampaignDefinedData] = field(default_factory=dict)
    # campaign → unit → the target its percentage is of (own when set, else assigned)
    targets: dict[str, dict[str, int]] = field(default_factory=dict)
    # parent → its direct children's ids, kept with ``units`` so a digest finds them at once
    child_ids: dict[str, set[str]] = field(default_factory=dict)

    def apply(self, event: AnyEvent) -> None:
        """Take in one registry record; other events are ignored."""
        if isinstance(event, UnionUpserted):
            data = event.data
            self._move_child(event.union_id, data.parent_id)
            self.units[event.union_id] = Unit(
                id=event.union_id,
                name=data.name,
                level=data.level.value,
                parent_id=data.parent_id,
                path=tuple(event.union_path),
                head=data.head,
            )
        elif isinstance(event, CampaignDefined):
            self.campaigns[event.campaign_id] = event.data
        elif isinstance(event, TargetSet):
            target = effective_target(event.data.own_target, event.data.assigned_target)
            self.targets.setdefault(event.campaign_id, {})[event.union_id] = target

    def children(self, unit_id: str) -> list[Unit]:
        """The unit's direct children, by id."""
        return [self.units[child] for child in sorted(self.child_ids.get(unit_id, ()))]

    def _move_child(self, unit_id: str, parent_id: str | None) -> None:
        former = self.units.get(unit_id)
        if former is not None and former.parent_id is not None:
            self.child_ids.get(former.parent_id, set()).discard(unit_id)
        if parent_id is not None:
            self.child_ids.setdefault(parent_id, set()).add(unit_id)

    def running(self, at: datetime) -> Iterator[tuple[str, CampaignDefinedData]]:
        """The campaigns under way at ``at`` (from local midnight of the first day to the end
        of the last)."""
        for campaign_id, campaign in sorted(self.campaigns.items()):
            start, end = campaign_bounds(campaign.starts_on, campaign.ends_on, campaign.timezone)
            if start <= at < end:
                yield campaign_id, campaign

    def units_with_targets(self, campaign_id: str) -> list[tuple[Unit, int]]:
        """Every known unit of the campaign with a target above 0, and that target."""
        found = self.targets.get(campaign_id, {})
        return [
            (self.units[unit_id], target)
            for unit_id, target in sorted(found.items())
            if target > 0 and unit_id in self.units
        ]
