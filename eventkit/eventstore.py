"""Appending events: to the service's event store and, in the same transaction, to the outbox."""

import asyncpg

from eventkit import tracing
from eventkit.codec import encode
from eventkit.db import Statement, one_round_trip
from schemas.envelope import Envelope


class ConcurrencyConflict(Exception):
    """Another writer appended the same (stream, version) first."""


async def append(conn: asyncpg.Connection, topic: str, *envelopes: Envelope) -> None:
    """Must run inside the caller's transaction, so state, events and outbox commit together."""
    try:
        await conn.executemany(
            "INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (
                    e.id,
                    e.aggregateid,
                    e.aggregateversion,
                    e.type,
                    e.dataversion,
                    e.model_dump(mode="json"),
                )
                for e in envelopes
            ],
        )
    except asyncpg.UniqueViolationError as exc:
        raise ConcurrencyConflict(str(exc)) from exc
    traceparent = tracing.current_traceparent()  # None unless tracing is on
    await conn.executemany(
        "INSERT INTO outbox (event_id, topic, key, value, traceparent) VALUES ($1, $2, $3, $4, $5)",
        [(e.id, topic, e.aggregateid, encode(e), traceparent) for e in envelopes],
    )


async def append_with(
    conn: asyncpg.Connection, topic: str, envelope: Envelope, *also: Statement
) -> None:
    """append() of one event, together with the caller's own writes of the same transaction
    (e.g. a ledger row, the idempotency response), in one round trip instead of one per write.

    The event is serialised once: the outbox gets the bytes, the event store parses the same
    bytes into its jsonb column."""
    value = encode(envelope)
    sql, args = one_round_trip(
        (
            "INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)"
            " VALUES ($1, $2, $3, $4, $5, convert_from($6, 'UTF8')::jsonb)",
            (
                envelope.id,
                envelope.aggregateid,
                envelope.aggregateversion,
                envelope.type,
                envelope.dataversion,
                value,
            ),
        ),
        (
            "INSERT INTO outbox (event_id, topic, key, value, traceparent)"
            " VALUES ($1, $2, $3, $4, $5)",
            (envelope.id, topic, envelope.aggregateid, value, tracing.current_traceparent()),
        ),
        *also,
    )
    try:
        await conn.execute(sql, *args)
    except asyncpg.UniqueViolationError as exc:
        if exc.table_name == "events":
            raise ConcurrencyConflict(str(exc)) from exc
        raise


async def read_stream(conn: asyncpg.Connection, stream_id: str) -> list[dict]:
    rows = await conn.fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 ORDER BY version", stream_id
    )
    return [r["envelope"] for r in rows]
