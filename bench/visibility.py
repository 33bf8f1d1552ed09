"""End-to-end visibility: from the moment gifting accepted a gift to the moment the projections
worker folded it into the read models. Both ends are server-side, so a busy load generator
cannot distort them: the start is the event's `time` (stamped by gifting inside the accepting
transaction, a few ms before its commit), the end is `projected_events.projected_at` (now() of
the projector's transaction that also upserted wallet_balances, i.e. its start, a few ms before
its commit). projected_events.event_time is the envelope's time."""

import asyncio
import time

import asyncpg

from eventkit.settings import Settings
from services.projections import offsets
from services.projections.worker import source_topics


async def wait_visible(
    dsn: str, event_ids: list[str], timeout: float = 60
) -> tuple[list[float], int]:
    """Waits until every event is projected; returns (visibility latencies in seconds, events
    never seen within timeout)."""
    seen: dict[str, float] = {}
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        pending = list(event_ids)
        while pending:
            rows = await conn.fetch(
                "SELECT event_id::text AS id,"
                " extract(epoch FROM projected_at - event_time)::float8 AS seconds"
                " FROM projected_events WHERE event_id = ANY($1::uuid[])",
                pending,
            )
            for r in rows:
                seen[r["id"]] = r["seconds"]
            pending = [e for e in pending if e not in seen]
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    return [max(0.0, s) for s in seen.values()], len(pending)


async def wait_processed(dsn: str, event_ids: list[str], timeout: float = 300) -> int:
    """Waits until an idempotent consumer (eventkit.consumer) has recorded every event in its
    processed_events; returns how many it never recorded within timeout."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])", event_ids
            )
            if done >= len(event_ids) or time.monotonic() > deadline:
                return len(event_ids) - done
            await asyncio.sleep(0.25)
    finally:
        await conn.close()


async def wait_caught_up(settings: Settings, timeout: float = 300) -> float:
    """Waits until the projections worker has taken in everything on its source topics;
    returns the seconds it took. Funding the fans leaves a backlog of purchases: a series
    started before it is taken in would measure the gifts' visibility behind that backlog,
    not the system's."""
    conn = await asyncpg.connect(settings.database_for("projections"))
    try:
        return await offsets.wait_caught_up(settings, conn, source_topics(settings), timeout)
    finally:
        await conn.close()
