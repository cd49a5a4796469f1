"""The scoring counters in Redis: the key schema and a read API, shared by scoring (which
writes them) and the notifier (which reads them), so neither copies the other's layout."""

from shared.counters.keys import CounterKeys, RegistryKeys, iso_week
from shared.counters.read import UnitCounters, read_backlog, read_series, read_unit

__all__ = [
    "CounterKeys",
    "RegistryKeys",
    "UnitCounters",
    "iso_week",
    "read_backlog",
    "read_series",
    "read_unit",
]
