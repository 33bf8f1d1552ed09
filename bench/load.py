"""Open-loop load: requests leave at fixed times (t0 + i / rate) whatever the replies do, and each
latency is measured from the request's *scheduled* time, so a stalled server cannot hide its
queueing delay (no coordinated omission). Several generator processes may share the rate."""

import asyncio
import os
import random
import resource
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import aiohttp
import orjson
import uvloop

from services.gifting.catalog import load_catalog


@dataclass
class Plan:
    url: str  # e.g. http://127.0.0.1:8002/v1/gifts
    rate: float  # offered requests per second (this process's share)
    duration: float
    start_at: float  # wall-clock time of the first request (shared by processes)
    fan_tokens: list[tuple[str, str]]  # (user id, bearer token)
    creators: list[str]
    hot_share: float = 0.0  # share of gifts sent to creators[0]
    max_in_flight: int = 2000  # beyond this a due request is dropped and counted as errored
    connections: int = 256
    seed: int = 0


@dataclass
class Outcome:
    offered: int = 0
    accepted: int = 0
    refused: int = 0
    errored: int = 0
    dropped: int = 0
    latencies: list[float] = field(default_factory=list)  # accepted, seconds
    send_lag: list[float] = field(default_factory=list)  # start - scheduled, seconds
    events: list[tuple[str, float]] = field(default_factory=list)  # (event id, accepted wall)
    statuses: dict[int, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    def merge(self, other: "Outcome") -> "Outcome":
        for name in ("offered", "accepted", "refused", "errored", "dropped", "cpu_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.wall_seconds = max(self.wall_seconds, other.wall_seconds)
        self.latencies += other.latencies
        self.send_lag += other.send_lag
        self.events += other.events
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        return self


def _body(plan: Plan, rng: random.Random) -> bytes:
    if plan.hot_share and rng.random() < plan.hot_share:
        creator = plan.creators[0]
    else:
        creator = plan.creators[rng.randrange(len(plan.creators))]
    return orjson.dumps(
        {
            "creator_id": creator,
            "context": {"kind": "live", "id": "bench"},
            "gift_code": "rose",
            "quantity": 1,
            "catalog_version": load_catalog().version,
        }
    )


async def _drive(plan: Plan) -> Outcome:
    rng = random.Random(plan.seed)
    out = Outcome()
    headers = [
        {"authorization": f"Bearer {tok}", "content-type": "application/json"}
        for _, tok in plan.fan_tokens
    ]
    loop = asyncio.get_running_loop()
    in_flight = 0
    cpu0 = time.process_time()

    async def one(due: float, h: dict, body: bytes) -> None:
        nonlocal in_flight
        out.send_lag.append(loop.time() - due)
        try:
            async with client.post(
                plan.url, data=body, headers={**h, "idempotency-key": str(uuid.uuid4())}
            ) as r:
                status, content = r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError):
            out.errored += 1
            return
        finally:
            in_flight -= 1
        out.statuses[status] = out.statuses.get(status, 0) + 1
        if status == 201:
            out.accepted += 1
            out.latencies.append(loop.time() - due)
            out.events.append((orjson.loads(content)["event_id"], time.time()))
        elif status < 500:
            out.refused += 1
        else:
            out.errored += 1

    # aiohttp, not httpx: httpx's pool scans every queued request against every connection on
    # each hand-off, so once requests queue the generator itself burns a core and caps the
    # offered rate (~80 gifts/s here while the server sat idle).
    connector = aiohttp.TCPConnector(limit=plan.connections, limit_per_host=plan.connections)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30),
        skip_auto_headers=("User-Agent",),
    ) as client:
        total = int(plan.rate * plan.duration)
        t0 = loop.time() + max(0.0, plan.start_at - time.time())
        tasks = set()
        i = 0
        while i < total:
            now = loop.time()
            while i < total and t0 + i / plan.rate <= now:  # launch everything now due
                due = t0 + i / plan.rate
                i += 1
                out.offered += 1
                if in_flight >= plan.max_in_flight:
                    out.dropped += 1
                    out.errored += 1
                    continue
                in_flight += 1
                task = asyncio.ensure_future(
                    one(due, headers[rng.randrange(len(headers))], _body(plan, rng))
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if i < total:
                await asyncio.sleep(max(0.0, t0 + i / plan.rate - loop.time()))
        if tasks:
            await asyncio.wait(tasks)
        out.wall_seconds = loop.time() - t0
    out.cpu_seconds = time.process_time() - cpu0
    return out


def _run_plan(plan: Plan) -> Outcome:
    return uvloop.run(_drive(plan))


def open_loop(base: Plan, workers: int = 1) -> Outcome:
    """Runs the plan split over `workers` processes (each rate / workers); merges outcomes."""
    if workers <= 1:
        return _run_plan(base)
    plans = []
    for w in range(workers):
        p = Plan(
            **{
                **base.__dict__,
                "rate": base.rate / workers,
                "seed": base.seed + w,
                "fan_tokens": base.fan_tokens[w::workers] or base.fan_tokens,
                "max_in_flight": max(1, base.max_in_flight // workers),
                "connections": max(1, base.connections // workers),
            }
        )
        plans.append(p)
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_run_plan, plans))
    merged = Outcome()
    for r in results:
        merged.merge(r)
    return merged


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def cpu_count() -> int:
    return os.cpu_count() or 1


def self_usage() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
