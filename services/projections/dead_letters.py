"""Dead letters counted by reason, for the ops view: the projections worker reads the dead-letter
topic (topics.READERS grants it that and nothing more) and folds each message's headers
(eventkit.deadletter: reason, topic, partition, offset, consumer) into `dead_letter_counts`.
The message's value (a copy of what was refused) is never decoded nor stored.

A reason is free text ("not JSON: unexpected character: line 1 column 1 (char 0)"); its class,
the text up to the first ": ", keeps the table small ("not JSON", "signature", "cannot apply",
"bad GiftSent v2 payload"), and the latest full reason of each class is kept as an example.

Effectively once, across restarts and redeliveries: the counts and the next offset of each
partition commit in one transaction (under a lock per partition, should two workers briefly
share one during a rebalance), and a message below the recorded offset is not counted again.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import asyncpg

from eventkit.retry import with_backoff
from schemas import headers
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.projector import Projector

log = logging.getLogger(__name__)
REASON, TOPIC, _PARTITION, _OFFSET, CONSUMER = headers.DEAD_LETTER
MAX_LABEL = 200  # characters of a consumer, topic or reason class
MAX_EXAMPLE = 500  # characters of the example reason
_LOCK = 0x0C01_DEAD  # advisory lock namespace: one per dead-letter partition

COUNTS = Table(
    "dead_letter_counts",
    (Column("consumer", "text"), Column("topic", "text"), Column("reason", "text")),
    (
        Column("messages", "bigint"),
        Column("first_seen", "timestamptz", MIN),
        Column("last_seen", "timestamptz", MAX),
        Column("last_seen_us", "bigint", MAX),
        Column("example", "text", "latest:last_seen_us"),
    ),
)


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    time: datetime  # the dead-letter message's own timestamp
    headers: Sequence[tuple[str, bytes]]


def text(raw: bytes | None, limit: int = MAX_LABEL) -> str:
    """A header as text PostgreSQL can store: UTF-8 (bad bytes replaced), no NUL, capped."""
    if raw is None:
        return ""
    return raw.decode("utf-8", "replace").replace("\x00", "")[:limit].strip()


def reason_class(reason: str) -> str:
    return reason.split(": ", 1)[0].strip()[:MAX_LABEL] or "(no reason)"


def tally(letters: Sequence[DeadLetter]) -> Rows:
    """The counts of `letters` by consumer, source topic and reason class. Pure."""
    rows = COUNTS.rows()
    for m in letters:
        found: dict[str, bytes] = {}
        for name, value in m.headers or ():
            found.setdefault(name, value)  # the first of a repeated header, as written
        reason = text(found.get(REASON), MAX_EXAMPLE)
        rows.add(
            (
                text(found.get(CONSUMER)) or "(unknown)",
                text(found.get(TOPIC)) or "(unknown)",
                reason_class(reason),
            ),
            messages=1,
            first_seen=m.time,
            last_seen=m.time,
            last_seen_us=int(m.time.timestamp() * 1_000_000),
            example=reason,
        )
    return rows


async def record(pool: asyncpg.Pool, letters: Sequence[DeadLetter]) -> int:
    """Counts the letters not counted yet; returns how many were new."""
    partitions = sorted({m.partition for m in letters})
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, p) FROM unnest($2::int[]) AS p ORDER BY p",
            _LOCK,
            partitions,
        )
        done = {
            r["partition"]: r["next_offset"]
            for r in await conn.fetch(
                'SELECT "partition", next_offset FROM dead_letter_positions'
                ' WHERE "partition" = ANY($1::int[])',
                partitions,
            )
        }
        fresh = [m for m in letters if m.offset >= done.get(m.partition, 0)]
        await tally(fresh).write(conn)
        ends: dict[int, int] = {}
        for m in letters:
            ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)
        await conn.execute(
            'INSERT INTO dead_letter_positions ("partition", next_offset)'
            " SELECT * FROM unnest($1::int[], $2::bigint[])"
            ' ON CONFLICT ("partition") DO UPDATE'
            " SET next_offset = GREATEST(dead_letter_positions.next_offset, EXCLUDED.next_offset)",
            list(ends),
            list(ends.values()),
        )
    return len(fresh)


def attach(app: Any, topic: Any, projector: Callable[[], Awaitable["Projector"]]) -> None:
    """Adds the counting agent to the worker's faust app: a consumer of `topic` (the
    dead-letter topic) in the app's group, writing with the worker's projector's pool."""

    @app.agent(topic, concurrency=1, name="dead-letter-counts")
    async def count(stream):
        async for events in stream.take_events(500, within=0.2):
            letters = [
                DeadLetter(
                    e.message.partition,
                    e.message.offset,
                    datetime.fromtimestamp(e.message.timestamp, UTC),
                    e.message.headers or (),
                )
                for e in events
            ]
            target = (await projector()).pool
            # Every failure is retried: nothing here is caused by a message PostgreSQL refuses
            # (text() makes every header storable), and faust would ack what escapes.
            await with_backoff(partial(record, target, letters), lambda exc: True, log)
