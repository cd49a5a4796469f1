"""Reading the counters: what a progress query or a lag evaluation needs, one round trip a
unit (or a pipeline for many)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from redis.asyncio import Redis

from shared.counters.keys import CounterKeys
from shared.redis import register_script

COUNTER_FIELDS = (
    "registered",
    "under_review",
    "valid",
    "rejected",
    "withdrawn",
    "benefit_vnd",
    "people",
)


@dataclass(frozen=True)
class UnitCounters:
    """A unit's counters in a campaign (its whole subtree). Zero counts are left out of the
    breakdowns."""

    registered: int = 0  # submitted and not withdrawn
    under_review: int = 0
    valid: int = 0
    rejected: int = 0
    withdrawn: int = 0
    benefit_vnd: int = 0
    people: int = 0  # distinct people who submitted
    # {"registered": {field: n}, "valid": {field: n}}, likewise by author category.
    by_field: dict[str, dict[str, int]] = field(default_factory=dict)
    by_category: dict[str, dict[str, int]] = field(default_factory=dict)
    by_day: dict[str, int] = field(default_factory=dict)  # campaign-local YYYY-MM-DD
    by_week: dict[str, int] = field(default_factory=dict)  # ISO YYYY-Www
    backlog_by_day: dict[str, int] = field(default_factory=dict)  # waiting, by submission day

    def counted(self, counts: str) -> int:
        """What counts toward the target: ``valid`` (the default) or ``registered``."""
        return self.registered if counts == "registered" else self.valid

    @property
    def oldest_waiting(self) -> date | None:
        """The submission day of the oldest initiative still under review."""
        return date.fromisoformat(min(self.backlog_by_day)) if self.backlog_by_day else None

    def summary(self, waiting_before: date) -> UnitSummary:
        """What a lag evaluation needs of these counters (see ``read_summaries``)."""
        return UnitSummary(
            registered=self.registered,
            valid=self.valid,
            under_review=self.under_review,
            waiting=self.waiting_since_before(waiting_before) if self.backlog_by_day else 0,
        )

    def waiting_since_before(self, day: date) -> int:
        """Initiatives under review that were submitted before ``day``."""
        cutoff = day.isoformat()
        return sum(count for submitted, count in self.backlog_by_day.items() if submitted < cutoff)


def parse_unit(values: Mapping[str, str]) -> UnitCounters:
    """The counters from the fields of a unit's hash (see ``CounterKeys.unit``)."""
    totals = {name: int(values.get(name) or 0) for name in COUNTER_FIELDS}
    by_field: dict[str, dict[str, int]] = {}
    by_category: dict[str, dict[str, int]] = {}
    series: dict[str, dict[str, int]] = {"d": {}, "w": {}, "q": {}}
    for name in sorted(values):
        kind, colon, rest = name.partition(":")
        if not colon or kind == "rk" or int(values[name]) == 0:
            continue
        if kind in ("f", "a"):
            status, _, label = rest.partition("|")
            table = by_field if kind == "f" else by_category
            table.setdefault(status, {})[label] = int(values[name])
        elif kind in series:
            series[kind][rest] = int(values[name])
    return UnitCounters(
        **totals,
        by_field=by_field,
        by_category=by_category,
        by_day=series["d"],
        by_week=series["w"],
        backlog_by_day=series["q"],
    )


async def read_unit(redis: Redis, campaign_id: str, unit_id: str) -> UnitCounters:
    """A unit's counters (zeros when nothing was registered yet)."""
    values: dict[str, str] = await redis.hgetall(CounterKeys(campaign_id).unit(unit_id))  # type: ignore[assignment]  # decoded
    return parse_unit(values)


async def read_units(
    redis: Redis, campaign_id: str, unit_ids: Iterable[str], *, chunk: int = 5000
) -> dict[str, UnitCounters]:
    """Many units' counters, pipelined ``chunk`` units a round trip."""
    keys = CounterKeys(campaign_id)
    ids = list(unit_ids)
    result: dict[str, UnitCounters] = {}
    for start in range(0, len(ids), chunk):
        pipe = redis.pipeline(transaction=False)
        for unit_id in ids[start : start + chunk]:
            pipe.hgetall(keys.unit(unit_id))
        for unit_id, values in zip(ids[start : start + chunk], await pipe.execute(), strict=True):
            result[unit_id] = parse_unit(values)
    return result


@dataclass(frozen=True, slots=True)
class UnitSummary:
    """What a lag evaluation reads of a unit: its totals, and how many initiatives under review
    were submitted before a given day."""

    registered: int
    valid: int
    under_review: int
    waiting: int  # under review, submitted before the day asked for

    def counted(self, counts: str) -> int:
        """What counts toward the target: ``valid`` (the default) or ``registered``."""
        return self.registered if counts == "registered" else self.valid


# Sums the backlog inside Redis and answers four numbers a unit: a unit's hash has a field a day
# and a field a category; sending them all (and parsing them here) cost an evaluation of
# 150,000 units most of its time.
_SUMMARIES = """
local out = {}
local before = ARGV[1]
for i, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  local registered, valid, under_review, waiting = 0, 0, 0, 0
  for j = 1, #fields, 2 do
    local name = fields[j]
    if name == 'registered' then registered = tonumber(fields[j + 1])
    elseif name == 'valid' then valid = tonumber(fields[j + 1])
    elseif name == 'under_review' then under_review = tonumber(fields[j + 1])
    elseif string.sub(name, 1, 2) == 'q:' and string.sub(name, 3) < before then
      waiting = waiting + tonumber(fields[j + 1])  -- ISO dates sort as text
    end
  end
  out[i] = {registered, valid, under_review, waiting}
end
return out
"""


async def read_summaries(
    redis: Redis,
    campaign_id: str,
    unit_ids: Iterable[str],
    *,
    waiting_before: date,
    chunk: int = 1000,
) -> dict[str, UnitSummary]:
    """Many units' summaries, ``chunk`` units a script call (each call holds Redis about
    5 ms for 1,000 units; the keys share the campaign's slot, so Redis Cluster serves it)."""
    keys = CounterKeys(campaign_id)
    script = register_script(redis, _SUMMARIES)
    ids = list(unit_ids)
    before = waiting_before.isoformat()
    result: dict[str, UnitSummary] = {}
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        answers = await script(keys=[keys.unit(unit_id) for unit_id in part], args=[before])
        for unit_id, (registered, valid, under_review, waiting) in zip(part, answers, strict=True):
            result[unit_id] = UnitSummary(registered, valid, under_review, waiting)
    return result
