"""Where each counter lives.

Every key of a campaign carries the hash tag ``{c:<campaign>}``: Redis Cluster puts all of a
campaign's keys in one slot, so the atomic Lua step that updates a unit and all its ancestors
touches one shard. Campaigns spread over the shards; one campaign (a million initiatives, a few
hundred MB) fits one shard comfortably.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


def iso_week(day: date) -> str:
    """``2022-W18``: the ISO week a day belongs to (weeks start on Monday)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class CounterKeys:
    """The keys of one campaign."""

    campaign_id: str

    @property
    def prefix(self) -> str:
        """The hash-tagged prefix of every key of the campaign."""
        return f"{{c:{self.campaign_id}}}"

    def unit(self, unit_id: str) -> str:
        """Hash of everything counted for a unit's subtree, one hash so a step reads and writes
        it once: the totals (``registered``, ``under_review``, ``valid``, ``rejected``,
        ``withdrawn``, ``benefit_vnd``, ``people``); ``f:<status>|<field>`` and
        ``a:<status>|<author category>`` (status ``registered`` or ``valid``); ``d:<YYYY-MM-DD>``
        and ``w:<YYYY-Www>`` (registrations by campaign-local day and ISO week); ``q:<YYYY-MM-DD>``
        (initiatives still under review, by the day they were submitted); and ``rk:<metric>``
        (the scores last placed in the rankings)."""
        return f"{self.prefix}:u:{unit_id}"

    def people(self, unit_id: str) -> str:
        """Hash person_key → live initiatives in the unit's subtree (distinct people = HLEN)."""
        return f"{self.prefix}:p:{unit_id}"

    def initiative(self, initiative_id: str) -> str:
        """String: one initiative's state, what the counters already hold of it (see
        apply_batch.lua): about 300 bytes an initiative with its key, whatever the redeliveries."""
        return f"{self.prefix}:i:{initiative_id}"

    def fence(self, topic: str, partition: int) -> str:
        """The last offset of ``topic``/``partition`` applied to this campaign's counters."""
        return f"{self.prefix}:o:{topic}:{partition}"

    def ranking(self, metric: str, grouping: str, group: str) -> str:
        """Sorted set ranking units by ``metric`` (pct, per100, people) within a ``grouping``
        (ch: a parent's children, cl: an emulation cluster, lv: a level)."""
        return f"{self.prefix}:rk:{metric}:{grouping}:{group}"

    @property
    def ranking_queue(self) -> str:
        """Set of units whose rankings the refresher must look at (ancestors the counters' step
        touched; it ranks the events' own units itself)."""
        return f"{self.prefix}:rkq"

    @property
    def targets(self) -> str:
        """Hash unit → the target its percentage is of (its own, else the assigned one): what
        ranking needs, many units in one read. Registry state, like ``RegistryKeys.target``."""
        return f"{self.prefix}:targets"

    @property
    def units(self) -> str:
        """Set of every unit that has counters (what totals and a wipe walk)."""
        return f"{self.prefix}:units"

    @property
    def pattern(self) -> str:
        """A SCAN pattern for every key of the campaign (a rebuild deletes them)."""
        return f"{self.prefix}:*"


_FACTS_SEPARATOR = "\x1f"


def encode_facts(parent_id: str, cluster: str, level: str, members: int) -> str:
    """A unit's entry in ``RegistryKeys.facts()``."""
    return _FACTS_SEPARATOR.join((parent_id, cluster, level, str(members)))


def decode_facts(text: str) -> tuple[str, str, str, int]:
    """(parent_id, cluster, level, members) from an entry of ``RegistryKeys.facts()``."""
    parent_id, cluster, level, members = text.split(_FACTS_SEPARATOR)
    return parent_id, cluster, level, int(members)


def effective_target(own: int | str | None, assigned: int | str | None) -> int:
    """The target a unit's percentage is of: its own when it set one, else the assigned one."""
    return int(own or assigned or 0)


@dataclass(frozen=True)
class RegistryKeys:
    """The registry as scoring keeps it in Redis, read from the compacted registry topic."""

    @staticmethod
    def unit(unit_id: str) -> str:
        """Hash: name, parent_id, level, sector, emulation_cluster, members, path ("/"-joined)."""
        return f"reg:u:{unit_id}"

    @staticmethod
    def facts() -> str:
        """Hash unit → its parent, cluster, level and members (see ``encode_facts``): what
        ranking needs of a unit, for many units in one read."""
        return "reg:facts"

    @staticmethod
    def children(unit_id: str) -> str:
        """Set of the unit's direct children."""
        return f"reg:ch:{unit_id}"

    @staticmethod
    def campaign(campaign_id: str) -> str:
        """Hash: the campaign.defined.v1 data as JSON under ``definition``, and its organiser."""
        return f"reg:c:{campaign_id}"

    @staticmethod
    def campaigns() -> str:
        """Set of every campaign id."""
        return "reg:campaigns"

    @staticmethod
    def target(campaign_id: str, unit_id: str) -> str:
        """Hash: assigned_target, own_target (tagged with the campaign, beside its counters)."""
        return f"{CounterKeys(campaign_id).prefix}:t:{unit_id}"
