"""The diamond ledger in PostgreSQL. Each figure moves only through a conditional statement, and
every move appends its event (event store + outbox) in the same transaction.

Lock order, everywhere: payouts row -> creators row -> payout_days row (so no deadlocks).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from eventkit import tracing
from eventkit.codec import encode
from eventkit.db import one_round_trip
from eventkit.eventstore import ConcurrencyConflict
from eventkit.streams import EventStreams
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.payout import (
    DiamondsCredited,
    DiamondsReleased,
)
from services.payout.domain import Reserve, hold_for

SOURCE = "/coinstream/payout"


# A creator's diamonds and payouts: one event stream per creator, `creator-<id>`, about the
# creator: `emit(conn, creator_id, version, payload, cause=...)`.
CREATORS = EventStreams(source=SOURCE, topic=topics.PAYOUT_EVENTS, prefix="creator")
emit = CREATORS.emit


async def bump_version(conn, creator_id: str) -> int:
    """Next version of the creator's stream, for events that move no figure."""
    return await conn.fetchval(
        "UPDATE creators SET version = version + 1, updated_at = now() WHERE creator_id = $1"
        " RETURNING version",
        creator_id,
    )


@dataclass(frozen=True)
class Credit:
    creator_id: str
    source: str  # gift | unlock
    source_id: str
    stream_id: str | None
    coins: int  # this creator's part of the source's coins
    diamonds_per_coin: Decimal
    diamonds: int  # what the part earns at that rate (handlers.credits_of: a gift's split)


def reserve_percent(reserve: Reserve) -> Decimal:
    """The reserve share a credit records: none is held without a window (see hold_for)."""
    return reserve.percent if reserve.window > timedelta(0) else Decimal(0)


@dataclass(frozen=True)
class Earning:
    """What one gift or unlock earns its creator: the credit, and the figures it yields at the
    rate recorded on it and the reserve in force."""

    cause: Envelope
    credit: Credit
    diamonds: int
    held: int
    release_at: datetime | None

    @classmethod
    def of(cls, cause: Envelope, c: Credit, reserve: Reserve) -> "Earning":
        return cls(cause, c, c.diamonds, *hold_for(c.diamonds, reserve, cause.time))

    def row(self) -> tuple:
        """Its `credits` row, in _CREDIT_COLUMNS order."""
        c = self.credit
        return (
            self.cause.id,
            c.creator_id,
            c.source,
            c.source_id,
            c.stream_id,
            c.coins,
            c.diamonds_per_coin,
            self.diamonds,
            self.held,
            self.cause.time,
            self.release_at,
        )

    def credited(self, reserve: Reserve, earned_after: int) -> DiamondsCredited:
        c = self.credit
        return DiamondsCredited(
            creator_id=c.creator_id,
            gift_event_id=str(self.cause.id),
            gift_id=c.source_id,
            stream_id=c.stream_id,
            coins=c.coins,
            diamonds_per_coin=c.diamonds_per_coin,
            reserve_percent=reserve_percent(reserve),
            diamonds=self.diamonds,
            held=self.held,
            release_at=self.release_at,
            earned_after=earned_after,
        )


_CREDIT_COLUMNS = (
    "source_event_id, creator_id, source, source_id, stream_id, coins, diamonds_per_coin,"
    " diamonds, held, earned_at, release_at"
)


async def credit(conn, cause: Envelope, c: Credit, reserve: Reserve) -> int:
    """Credits a creator once per source event id (the credits row, keyed by both, is a second
    guard behind processed_events); part of it is held until the reserve window ends.
    Returns diamonds."""
    earning = Earning.of(cause, c, reserve)
    fresh = await conn.fetchval(
        f"INSERT INTO credits ({_CREDIT_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING RETURNING true",
        *earning.row(),
    )
    if not fresh:
        return 0
    row = await conn.fetchrow(
        "INSERT INTO creators (creator_id, earned, held, version) VALUES ($1, $2, $3, 1)"
        " ON CONFLICT (creator_id) DO UPDATE SET earned = creators.earned + EXCLUDED.earned,"
        " held = creators.held + EXCLUDED.held, version = creators.version + 1,"
        " updated_at = now() RETURNING earned, version",
        c.creator_id,
        earning.diamonds,
        earning.held,
    )
    await emit(
        conn, c.creator_id, row["version"], earning.credited(reserve, row["earned"]), cause=cause
    )
    return earning.diamonds


_CREDITS = f"""
INSERT INTO credits ({_CREDIT_COLUMNS})
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                     $7::numeric[], $8::bigint[], $9::bigint[], $10::timestamptz[],
                     $11::timestamptz[])
ON CONFLICT DO NOTHING RETURNING source_event_id, creator_id
"""

# Every creator of the batch gets a row, then all are locked in creator order (two statements:
# a query does not see the rows its own data-modifying CTE inserts).
_NEW_CREATORS = """
INSERT INTO creators (creator_id, earned, held, version)
SELECT unnest($1::text[]), 0, 0, 0 ORDER BY 1 ON CONFLICT DO NOTHING
"""
_LOCK_CREATORS = """
SELECT creator_id, earned, held, version FROM creators WHERE creator_id = ANY($1::text[])
ORDER BY creator_id FOR UPDATE
"""

_UPDATE_CREATORS = """
UPDATE creators c SET earned = v.earned, held = v.held, version = v.version, updated_at = now()
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::integer[]) AS v (creator_id, earned,
                                                                        held, version)
WHERE c.creator_id = v.creator_id
"""
# The run's DiamondsCredited, event store and outbox, each one set-based insert; serialised
# once: the outbox gets the bytes and the event store parses the same bytes into its jsonb.
_EVENTS = """
INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)
SELECT i, s, v, t, d, convert_from(b, 'UTF8')::jsonb
FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::integer[], $6::bytea[])
     AS x (i, s, v, t, d, b)
"""
_OUTBOX = """
INSERT INTO outbox (event_id, topic, key, value, traceparent)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::text[])
"""


async def credit_many(conn, credits: list[tuple[Envelope, Credit]], reserve: Reserve) -> None:
    """credit() for a batch, in the order given, with set-based statements: a creator's row is
    updated once per batch however many gifts it received (a hot creator's storm), and each
    DiamondsCredited carries the running figures a one-by-one credit would have given."""
    earnings = [Earning.of(cause, c, reserve) for cause, c in credits]
    fresh = {
        (r["source_event_id"], r["creator_id"])
        for r in await conn.fetch(
            _CREDITS, *[list(col) for col in zip(*(e.row() for e in earnings), strict=True)]
        )
    }
    earnings = [e for e in earnings if (e.cause.id, e.credit.creator_id) in fresh]
    if not earnings:
        return
    touched = sorted({e.credit.creator_id for e in earnings})
    await conn.execute(_NEW_CREATORS, touched)
    creators = {
        r["creator_id"]: [r["earned"], r["held"], r["version"]]
        for r in await conn.fetch(_LOCK_CREATORS, touched)
    }
    events = []
    for e in earnings:
        state = creators[e.credit.creator_id]
        state[0], state[1], state[2] = state[0] + e.diamonds, state[1] + e.held, state[2] + 1
        events.append(
            CREATORS.envelope(
                e.credit.creator_id, state[2], e.credited(reserve, state[0]), cause=e.cause
            )
        )
    values = [encode(e) for e in events]
    traceparent = tracing.current_traceparent()  # None unless tracing is on
    # The creators' new figures and their events are independent writes: one round trip.
    sql, args = one_round_trip(
        (_UPDATE_CREATORS, (touched, *[[creators[t][i] for t in touched] for i in range(3)])),
        (
            _EVENTS,
            (
                [e.id for e in events],
                [e.aggregateid for e in events],
                [e.aggregateversion for e in events],
                [e.type for e in events],
                [e.dataversion for e in events],
                values,
            ),
        ),
        (
            _OUTBOX,
            (
                [e.id for e in events],
                [topics.PAYOUT_EVENTS] * len(events),
                [e.aggregateid for e in events],
                values,
                [traceparent] * len(events),
            ),
        ),
    )
    try:
        await conn.execute(sql, *args)
    except asyncpg.UniqueViolationError as exc:  # as eventstore.append says it
        if exc.table_name == "events":
            raise ConcurrencyConflict(str(exc)) from exc
        raise


async def release_due(pool: asyncpg.Pool, now: datetime, batch: int = 200) -> int:
    """Releases held diamonds whose window is over; each credit is released exactly once
    (SKIP LOCKED lets several workers share the work). Returns diamonds released."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "WITH due AS (SELECT source_event_id, creator_id FROM credits WHERE held > 0"
            "  AND released_at IS NULL AND release_at <= $1 ORDER BY release_at LIMIT $2"
            "  FOR UPDATE SKIP LOCKED)"
            " UPDATE credits c SET released_at = $1 FROM due"
            " WHERE (c.source_event_id, c.creator_id) = (due.source_event_id, due.creator_id)"
            " RETURNING c.creator_id, c.held",
            now,
            batch,
        )
        per_creator: dict[str, int] = {}
        for r in rows:
            per_creator[r["creator_id"]] = per_creator.get(r["creator_id"], 0) + r["held"]
        for creator_id in sorted(per_creator):
            diamonds = per_creator[creator_id]
            row = await conn.fetchrow(
                "UPDATE creators SET held = held - $2, version = version + 1, updated_at = now()"
                " WHERE creator_id = $1 RETURNING held, version",
                creator_id,
                diamonds,
            )
            await emit(
                conn,
                creator_id,
                row["version"],
                DiamondsReleased(creator_id=creator_id, diamonds=diamonds, held_after=row["held"]),
            )
        return sum(per_creator.values())
