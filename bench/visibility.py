"""End-to-end visibility: from the moment the API accepted a gift to the moment the projections
worker recorded its event in `projected_events` (committed together with the read-model upsert).
`projected_at` is that transaction's now(), i.e. its start, a few ms before it is visible; the
clock is the same machine's, so wall times compare."""

import asyncio
import time

import asyncpg


async def wait_visible(dsn: str, events: list[tuple[str, float]], timeout: float = 60
                       ) -> tuple[list[float], int]:
    """Returns (visibility latencies in seconds, events never seen within timeout)."""
    accepted = dict(events)
    seen: dict[str, float] = {}
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        pending = list(accepted)
        while pending:
            rows = await conn.fetch(
                "SELECT event_id::text AS id, extract(epoch FROM projected_at) AS at"
                " FROM projected_events WHERE event_id = ANY($1::uuid[])", pending)
            for r in rows:
                seen[r["id"]] = float(r["at"])
            pending = [e for e in pending if e not in seen]
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    return [max(0.0, seen[e] - accepted[e]) for e in seen], len(pending)
