"""CPU accounting: the seconds each process taking part used, read before and after a run."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process and its live children have used, from /proc
    (uvicorn with several workers is a supervisor and its worker processes); None when
    unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return own + sum(process_cpu(child) or 0.0 for child in _children(pid))


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


@dataclass
class Meter:
    """CPU seconds of every process taking part, read before and after a run."""

    redis: Redis
    pids: dict[str, int | None]

    async def read(self) -> dict[str, float | None]:
        """CPU seconds so far of this process, Redis, and each known process."""
        info = await self.redis.info("cpu")
        values: dict[str, float | None] = {
            "bench process": time.process_time(),
            "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        }
        for name, pid in self.pids.items():
            values[name] = process_cpu(pid)
        return values

    @staticmethod
    def spent(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, Any]:
        """CPU seconds each process spent between two readings."""
        spent: dict[str, Any] = {}
        for name, value in after.items():
            start = before.get(name)
            spent[name] = None if start is None or value is None else value - start
        return spent
