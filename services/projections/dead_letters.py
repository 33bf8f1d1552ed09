"""Dead letters counted by reason, for the ops view: the projections worker reads the dead-letter
topic (topics.READERS grants it that and nothing more) and folds each message's headers
(eventkit.deadletter: reason, topic, partition, offset, consumer) into `dead_letter_counts`.
The message's value (a copy of what was refused) is never decoded nor stored.

A reason is free text ("not JSON: unexpected character: line 1 column 1 (char 0)"); its class,
the text up to the first ": ", keeps the table small ("not JSON", "signature", "cannot apply",
"bad GiftSent v2 payload"), and the latest full reason of each class is kept as an example.

Each refused SOURCE message counts once per consumer: consumers are at-least-once, so one
killed before it commits reads the poison message again and dead-letters it again, a second
dead letter at a new offset of the dead-letter topic. The headers name the source message, and
its key (consumer, topic, partition, offset) goes into `dead_letter_sources` in the transaction
that counts it; a key already there is not counted. That also covers the dead-letter topic's
own redeliveries (same headers, same key). A letter whose source headers do not parse is keyed
by its own partition and offset on the dead-letter topic instead.
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
REASON, TOPIC, PARTITION, OFFSET, CONSUMER = headers.DEAD_LETTER
MAX_LABEL = 200  # characters of a consumer, topic or reason class
MAX_EXAMPLE = 500  # characters of the example reason
_LOCK = 0x0C01_DEAD  # advisory lock namespace: one per dead-letter partition
# The key of a letter without readable source headers: no Kafka topic name has parentheses.
OWN = "(dead-letter)"

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


def found(m: DeadLetter) -> dict[str, bytes]:
    """The letter's headers by name."""
    named: dict[str, bytes] = {}
    for name, value in m.headers or ():
        named.setdefault(name, value)  # the first of a repeated header, as written
    return named


def _number(raw: bytes | None) -> int | None:
    try:
        return int(raw.decode("ascii")) if raw is not None else None
    except ValueError:  # UnicodeDecodeError is one
        return None


def source(m: DeadLetter) -> tuple[str, str, int, int]:
    """The refused message's key: consumer, source topic, partition, offset (from the headers),
    or, when they do not parse, the letter's own place on the dead-letter topic. Pure."""
    h = found(m)
    consumer = text(h.get(CONSUMER)) or "(unknown)"
    topic, partition, offset = text(h.get(TOPIC)), _number(h.get(PARTITION)), _number(h.get(OFFSET))
    if topic and partition is not None and offset is not None:
        # integer and bigint bounds: anything outside them is not a Kafka coordinate either
        if -(2**31) <= partition < 2**31 and -(2**63) <= offset < 2**63:
            return consumer, topic, partition, offset
    return consumer, OWN, m.partition, m.offset


def tally(letters: Sequence[DeadLetter]) -> Rows:
    """The counts of `letters` by consumer, source topic and reason class. Pure."""
    rows = COUNTS.rows()
    for m in letters:
        h = found(m)
        reason = text(h.get(REASON), MAX_EXAMPLE)
        rows.add(
            (
                text(h.get(CONSUMER)) or "(unknown)",
                text(h.get(TOPIC)) or "(unknown)",
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
    """Counts the letters whose source message was not counted yet; returns how many."""
    first: dict[tuple[str, str, int, int], DeadLetter] = {}
    for m in letters:
        first.setdefault(source(m), m)  # the same source twice in a batch counts once
    if not first:
        return 0
    keys = sorted(first)  # one order for every writer: no deadlock between two of them
    partitions = sorted({m.partition for m in letters})
    async with pool.acquire() as conn, conn.transaction():
        # Two workers may briefly share a partition during a rebalance: one waits for the
        # other, then finds its keys taken (ON CONFLICT alone would also wait, on each row).
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, p) FROM unnest($2::int[]) AS p ORDER BY p",
            _LOCK,
            partitions,
        )
        new = await conn.fetch(
            'INSERT INTO dead_letter_sources (consumer, topic, "partition", "offset")'
            " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])"
            " ON CONFLICT DO NOTHING"
            ' RETURNING consumer, topic, "partition", "offset"',
            *(list(column) for column in zip(*keys, strict=True)),
        )
        fresh = [first[(r["consumer"], r["topic"], r["partition"], r["offset"])] for r in new]
        await tally(fresh).write(conn)
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
