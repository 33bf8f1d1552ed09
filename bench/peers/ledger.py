"""The plain-PostgreSQL ledger peer, in the style of pgledger: a fan -> creator transfer of one
coin is one call of a server-side function (`ledger_transfer`, bench/peers/ledger.sql) over
asyncpg, no HTTP, no Kafka, no read models. Closed loop: N connections each call it back to
back for `seconds`; several N are tried and the best kept. It is a ceiling for ours (what the
database does when the whole gift is one function call), not a rival."""

import asyncio
import random
import time
import uuid
from pathlib import Path

import asyncpg
import uvloop

from bench import cost

SQL = Path(__file__).with_name("ledger.sql")
FUNDS = 10**9


def creator_for(rng: random.Random, creators: list, hot_share: float):
    """creators[0] with probability hot_share, else one uniformly (as the HTTP generator)."""
    if hot_share and rng.random() < hot_share:
        return creators[0]
    return creators[rng.randrange(len(creators))]


async def _setup(dsn: str, fans: int, creators: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    fan_ids = [uuid.uuid4() for _ in range(fans)]
    creator_ids = [uuid.uuid4() for _ in range(creators)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SQL.read_text())
        await conn.execute(
            "INSERT INTO ledger_accounts (id, name, balance)"
            " SELECT id, name, balance FROM unnest($1::uuid[], $2::text[], $3::bigint[])"
            " AS a(id, name, balance)",
            fan_ids + creator_ids,
            [f"fan-{i}" for i in range(fans)] + [f"creator-{i}" for i in range(creators)],
            [FUNDS] * fans + [0] * creators,
        )
    finally:
        await conn.close()
    return fan_ids, creator_ids


def setup(dsn: str, fans: int, creators: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    return uvloop.run(_setup(dsn, fans, creators))


async def _run(
    dsn: str, fan_ids, creator_ids, hot_share: float, connections: int, seconds: float
) -> dict:
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    latencies: list[float] = []
    refused = [0]

    async def worker(i: int, conn: asyncpg.Connection) -> None:
        rng = random.Random(i)
        mine = fan_ids[i::connections] or fan_ids  # fans spread over connections, like users
        call = await conn.prepare("SELECT ledger_transfer($1, $2, 1)")
        while time.monotonic() < stop:
            fan, creator = mine[rng.randrange(len(mine))], creator_for(rng, creator_ids, hot_share)
            began = time.perf_counter()
            try:
                await call.fetchval(fan, creator)
            except asyncpg.CheckViolationError:
                refused[0] += 1
                continue
            latencies.append(time.perf_counter() - began)

    meter = cost.Meter()
    try:
        before, cpu0 = meter.sample(), time.process_time()
        stop = time.monotonic() + seconds
        await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
        client_cpu = time.process_time() - cpu0
        after = meter.sample()
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    elapsed = after.at - before.at
    latencies.sort()

    def pct(q):
        return (
            latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))] * 1000
            if latencies
            else None
        )

    spent = cost.breakdown(before, after, len(latencies), generator_cpu=client_cpu)
    # Only the database is this peer's system; the broker idles beside it.
    pg = spent["components"].get("postgresql", {})
    return {
        "peer": "ledger",
        "connections": connections,
        "hot_share": hot_share,
        "creators": len(creator_ids),
        "rate": len(latencies) / elapsed,
        "refused": refused[0],
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "seconds": seconds,
        "system_cpu_ms_per_gift": pg.get("ms_per_gift"),
        "client_cpu_ms_per_gift": spent["generator"]["ms_per_gift"],
        "cost": spent,
    }


def run(dsn: str, fan_ids, creator_ids, hot_share: float, connections: int, seconds: float) -> dict:
    return uvloop.run(_run(dsn, fan_ids, creator_ids, hot_share, connections, seconds))


def best(
    dsn: str, fan_ids, creator_ids, hot_share: float, seconds: float, connection_counts=(8, 16, 32)
) -> dict:
    runs = [run(dsn, fan_ids, creator_ids, hot_share, n, seconds) for n in connection_counts]
    top = max(runs, key=lambda r: r["rate"])
    top["tried"] = [{"connections": r["connections"], "rate": r["rate"]} for r in runs]
    return top
