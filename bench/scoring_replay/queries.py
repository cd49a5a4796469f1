"""The query load: progress queries from another process during CQ, and their percentiles."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shared.counters import read_unit
from shared.redis import create_redis

from .base import CAMPAIGN, uvloop
from .cpu import process_cpu

# Queries in flight at most (and HTTP connections): beyond it the server is saturated, and
# queueing more in the client would only measure the client's queue (and cost it quadratic
# time in httpx's pool).
MAX_OUTSTANDING = 64


@dataclass
class QueryStats:
    """What the query load saw during one candidate run."""

    latencies_ms: list[float]
    sent: int
    shed: int
    completed: int
    seconds: float
    errors: dict[str, int]
    client_cpu: float | None = None

    @property
    def rate(self) -> float:
        """Queries answered successfully per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN of nothing)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _query_load_process(
    mode: str,
    target: str,
    units: list[str],
    rate: float,
    ready: Any,
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    """Entry point of the query process: warm up, say ready, query from go to stop, report."""
    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None)
    with runner:
        results.put(runner.run(_query_load(mode, target, units, rate, ready, go, stop)))


async def _query_load(
    mode: str, target: str, units: list[str], rate: float, ready: Any, go: Any, stop: Any
) -> dict[str, Any]:
    """Open-loop load: a query is started every 1/rate s whether earlier ones answered or not,
    unless MAX_OUTSTANDING are still waiting: then it is shed (counted, not sent)."""
    rng = random.Random(11)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    query: Callable[[str], Awaitable[bool]]
    redis = create_redis(target) if mode == "read_unit" else None
    raw = KeepAliveClient(target) if mode == "http" else None
    client = (
        httpx.AsyncClient(
            base_url=target,
            timeout=30.0,
            limits=httpx.Limits(
                max_connections=MAX_OUTSTANDING, max_keepalive_connections=MAX_OUTSTANDING
            ),
        )
        if mode == "httpx"
        else None
    )

    async def httpx_query(unit: str) -> bool:
        assert client is not None
        response = await client.get(f"/campaigns/{CAMPAIGN}/units/{unit}/progress")
        if response.status_code != 200:
            errors[f"HTTP {response.status_code}"] += 1
            return False
        return True

    async def http_query(unit: str) -> bool:
        assert raw is not None
        status = await raw.get(f"/campaigns/{CAMPAIGN}/units/{unit}/progress")
        if status != 200:
            errors[f"HTTP {status}"] += 1
            return False
        return True

    async def redis_query(unit: str) -> bool:
        assert redis is not None
        await read_unit(redis, CAMPAIGN, unit)
        return True

    query = {"http": http_query, "httpx": httpx_query, "read_unit": redis_query}[mode]

    async def one(unit: str) -> None:
        started = time.perf_counter()
        try:
            ok = await query(unit)
        except Exception as error:  # counted, not raised: the load goes on
            errors[type(error).__name__] += 1
            return
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)

    try:
        for _ in range(20):  # connections open and the app warm before the clock
            await one(rng.choice(units))
        latencies.clear()
        errors.clear()
        ready.set()
        await asyncio.to_thread(go.wait)
        started = time.perf_counter()
        sent = shed = 0
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            due = int((time.perf_counter() - started) * rate)
            while sent + shed < due:
                if len(tasks) >= MAX_OUTSTANDING:
                    shed += 1
                    continue
                task = asyncio.create_task(one(rng.choice(units)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.001)
        seconds = time.perf_counter() - started
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        return {
            "latencies_ms": latencies,
            "sent": sent,
            "shed": shed,
            "completed": len(latencies),
            "seconds": seconds,
            "errors": dict(errors),
        }
    finally:
        if client is not None:
            await client.aclose()
        if raw is not None:
            raw.close()
        if redis is not None:
            await redis.aclose()


class KeepAliveClient:
    """GET over persistent HTTP/1.1 connections, one request at a time on each: a few dozen
    microseconds of CPU a request, where httpx.AsyncClient takes milliseconds here (its pool's
    bookkeeping grows with the requests in flight), CPU the server needs on a 2-CPU machine."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.host, self.port = host, int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open: list[asyncio.StreamWriter] = []

    async def get(self, path: str) -> int:
        """The status of ``GET path``, its body read and dropped. A kept-alive connection the
        server has closed meanwhile (uvicorn drops them after 5 s idle) is replaced and the
        request sent again, as HTTP clients do for an idempotent request."""
        if self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, path)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.open.append(writer)
        return await self._exchange(reader, writer, path)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
    ) -> int:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        """Close every connection."""
        for writer in self.open:
            writer.close()


class QueryLoad:
    """The query process for one candidate run: started and warmed before, stopped after."""

    def __init__(self, mode: str, target: str, units: list[str], rate: float) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process holds GBs
        self.ready, self.go, self.stop = context.Event(), context.Event(), context.Event()
        self.results = context.Queue()
        self.process = context.Process(
            target=_query_load_process,
            args=(mode, target, units, rate, self.ready, self.go, self.stop, self.results),
            daemon=True,
        )
        self.cpu_before: float | None = None

    async def start(self) -> None:
        """Start the process and wait until it is warm."""
        self.process.start()
        if not await asyncio.to_thread(self.ready.wait, 120):
            raise RuntimeError("the query process did not get ready in 120 s")

    def begin(self) -> None:
        """Start querying (the ingest starts now too)."""
        self.cpu_before = process_cpu(self.process.pid)
        self.go.set()

    async def finish(self) -> QueryStats:
        """Stop querying; collect what it saw."""
        self.stop.set()
        cpu_after = process_cpu(self.process.pid)
        found = await asyncio.to_thread(self.results.get, True, 120)
        await asyncio.to_thread(self.process.join, 30)
        cpu = None if self.cpu_before is None or cpu_after is None else cpu_after - self.cpu_before
        return QueryStats(**found, client_cpu=cpu)

    def kill(self) -> None:
        """Make sure the process is gone (after an error)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
