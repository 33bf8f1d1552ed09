"""Appending events: to the service's event store and, in the same transaction, to the outbox."""

import asyncpg

from eventkit.codec import encode
from schemas.envelope import Envelope


class ConcurrencyConflict(Exception):
    """Another writer appended the same (stream, version) first."""


async def append(conn: asyncpg.Connection, topic: str, *envelopes: Envelope) -> None:
    """Must run inside the caller's transaction, so state, events and outbox commit together."""
    try:
        await conn.executemany(
            "INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(e.id, e.aggregateid, e.aggregateversion, e.type, e.dataversion,
              e.model_dump(mode="json")) for e in envelopes],
        )
    except asyncpg.UniqueViolationError as exc:
        raise ConcurrencyConflict(str(exc)) from exc
    await conn.executemany(
        "INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)",
        [(e.id, topic, e.aggregateid, encode(e)) for e in envelopes],
    )


async def read_stream(conn: asyncpg.Connection, stream_id: str) -> list[dict]:
    rows = await conn.fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 ORDER BY version", stream_id)
    return [r["envelope"] for r in rows]
