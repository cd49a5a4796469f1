"""The scoring counters in Redis: the key schema and a read API, shared by scoring (which
writes them) and the notifier (which reads them), so neither copies the other's layout."""

from shared.counters.keys import (
    CounterKeys,
    RegistryKeys,
    decode_facts,
    effective_target,
    encode_facts,
    iso_week,
)
from shared.counters.read import (
    UnitCounters,
    UnitSummary,
    parse_unit,
    read_summaries,
    read_unit,
    read_units,
)

__all__ = [
    "CounterKeys",
    "RegistryKeys",
    "UnitCounters",
    "UnitSummary",
    "decode_facts",
    "effective_target",
    "encode_facts",
    "iso_week",
    "parse_unit",
    "read_summaries",
    "read_unit",
    "read_units",
]
