"""Redis around a run: flushed, the registry written in, then its commands and the root checked."""

from __future__ import annotations

from datetime import date
from typing import Any

from redis.asyncio import Redis

from shared.counters import CounterKeys, RegistryKeys, encode_facts, read_unit
from shared.counters.read import COUNTER_FIELDS
from shared.events import CampaignDefinedData

from .base import CAMPAIGN, ROOT
from .events import Expected
from .hierarchy import Unit

SLOW_CALL_US = 10_000  # Redis calls at least this long are logged: half the queries' p99 aim


async def reset_redis(redis: Redis, units: list[Unit]) -> None:
    """FLUSHDB, then write the registry as the registry reader would leave it; reset stats."""
    await redis.flushdb()
    # Straight into Redis, in the registry reader's layout (adapters/registry.py): reading
    # 300,000 records through it, one round trip and a re-ranking each, would take minutes.
    definition = CampaignDefinedData(
        name="Một triệu sáng kiến 2025",
        starts_on=date(2025, 3, 1),
        ends_on=date(2025, 12, 31),
        eligible_from=date(2024, 1, 1),
        eligible_to=date(2025, 12, 31),
    )
    pipe = redis.pipeline(transaction=False)
    pipe.hset(
        RegistryKeys.campaign(CAMPAIGN),
        mapping={"definition": definition.model_dump_json(), "organiser_id": ROOT},
    )
    pipe.sadd(RegistryKeys.campaigns(), CAMPAIGN)
    for n, unit in enumerate(units, 1):
        pipe.hset(
            RegistryKeys.unit(unit.id),
            mapping={
                "name": f"Công đoàn {unit.id}",
                "level": unit.level.value,
                "parent_id": unit.parent,
                "sector": "",
                "emulation_cluster": unit.cluster,
                "members": unit.members,
                "path": "/".join(unit.path),
            },
        )
        pipe.hset(
            RegistryKeys.facts(),
            unit.id,
            encode_facts(unit.parent, unit.cluster, unit.level.value, unit.members),
        )
        if unit.parent:
            pipe.sadd(RegistryKeys.children(unit.parent), unit.id)
        pipe.hset(RegistryKeys.target(CAMPAIGN, unit.id), mapping={"assigned_target": unit.target})
        pipe.hset(CounterKeys(CAMPAIGN).targets, unit.id, unit.target)
        if n % 5000 == 0:
            await pipe.execute()
    await pipe.execute()
    await redis.config_resetstat()
    await redis.slowlog_reset()


async def check_root(redis: Redis, expected: Expected) -> dict[str, Any]:
    """The root's counters against what the events imply."""
    counters = await read_unit(redis, CAMPAIGN, ROOT)
    got = {name: getattr(counters, name) for name in COUNTER_FIELDS}
    want = expected.root()
    return {
        "ok": got == want,
        # What a million initiatives cost in Redis (registry copy and rankings included).
        "redis_used_memory_bytes": (await redis.info("memory"))["used_memory"],
        # The check: every submission is either registered or withdrawn at the root.
        "registered_plus_withdrawn": got["registered"] + got["withdrawn"],
        "submissions": expected.submissions,
        "got": got,
        "want": want,
    }


async def redis_commands(redis: Redis) -> dict[str, dict[str, int]]:
    """Calls and Redis's own microseconds per command since the last CONFIG RESETSTAT."""
    stats = await redis.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): {"calls": int(value["calls"]), "usec": int(value["usec"])}
        for name, value in stats.items()
        if isinstance(value, dict) and "usec" in value
    }


async def slow_scripts(redis: Redis) -> list[float]:
    """Milliseconds of each script call in the slow log (at least SLOW_CALL_US) since the reset:
    while a script runs, Redis answers nobody, queries included."""
    durations = []
    for entry in await redis.slowlog_get(100_000):
        command = entry["command"]
        # redis-py leaves the command as bytes even on a decoding client.
        name = command[:4].decode() if isinstance(command, bytes) else command[:4]
        if name.upper() == "EVAL":
            durations.append(entry["duration"] / 1000)
    return durations
