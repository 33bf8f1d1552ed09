"""Projects batches of raw Kafka messages into the read models, effectively once.

One transaction per batch, of two statements whatever the batch's size: one records the
batch's event ids (a repeat is skipped) and advances the per-partition positions; the other
writes what every read model folds from the fresh events (upsert.write_together). Undecodable messages,
unknown types/versions and invalid payloads are returned for the dead-letter topic, and so are
events PostgreSQL refuses in a way retrying cannot fix (eventkit.failures): the batch is split
in halves, each applied on its own, until the one event that fails alone is found; everything
else commits.
"""

from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from eventkit.codec import PoisonMessage, decode
from eventkit.db import one_round_trip
from eventkit.failures import describe, is_permanent
from schemas.envelope import Envelope
from schemas.events.base import Payload
from schemas.registry import payload_model
from schemas.upcast import upcast
from services.projections.read_models import READ_MODELS, Fact, ReadModel
from services.projections.upsert import Rows, write_together


@dataclass(frozen=True)
class Incoming:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int
    # The envelope as signatures.signed_decoded parsed it while checking the message, so the
    # projector does not parse the JSON again (None: parse it here).
    envelope: Envelope | None = None


@dataclass
class Decoded:
    facts: dict  # event id -> Fact, first occurrence in the batch
    where: dict  # event id -> Incoming it came from
    poison: list[tuple[Incoming, str]]
    next_offsets: dict  # (topic, partition) -> offset after the last message seen


def fast_decode(raw: bytes | None) -> tuple[Envelope, Payload]:
    """eventkit.codec.decode, quicker for good messages (pydantic parses the JSON itself, about
    twice as fast as orjson + validate); anything it refuses goes through decode() for the
    exact reason. Live worker and rebuild both use it, so they agree on what is poison; the
    payload comes upcast to its type's newest version, as decode() gives it."""
    envelope = parse_envelope(raw)
    return decode(raw) if envelope is None else decode_parsed(envelope, raw)


def parse_envelope(raw: bytes | None) -> Envelope | None:
    """The message's envelope, parsed and validated by pydantic from the bytes; None for
    anything else (decode() then says why)."""
    if not raw:
        return None
    try:
        return Envelope.model_validate_json(raw)
    except (ValidationError, TypeError, ValueError):
        return None


def decode_parsed(envelope: Envelope, raw: bytes | None) -> tuple[Envelope, Payload]:
    """fast_decode() of a message whose envelope is already parsed: its payload, validated and
    upcast; anything refused goes through decode() for the exact reason."""
    model = payload_model(envelope.type, envelope.dataversion)
    if model is not None:
        try:
            return envelope, upcast(model.model_validate(envelope.data))
        except (ValidationError, TypeError, ValueError):
            pass
    return decode(raw)


def decode_batch(batch: list) -> Decoded:
    """The batch's events (the first of each id), its poison with reasons, and where each
    partition's position goes. `batch`: Incoming or aiokafka ConsumerRecords (a rebuild's)."""
    out = Decoded({}, {}, [], {})
    for item in batch:
        tp = (item.topic, item.partition)
        out.next_offsets[tp] = max(out.next_offsets.get(tp, 0), item.offset + 1)
        parsed = getattr(item, "envelope", None)
        try:
            if parsed is None:
                envelope, payload = fast_decode(item.value)
            else:
                envelope, payload = decode_parsed(parsed, item.value)
        except PoisonMessage as exc:
            out.poison.append((item, exc.reason))
            continue
        if envelope.id not in out.facts:
            out.facts[envelope.id] = Fact(envelope, payload)
            out.where[envelope.id] = item
    return out


async def fold(conn: asyncpg.Connection, facts: list[Fact], models) -> None:
    """Every model's rows for `facts`, written in one statement. A model with a project() of
    its own (not ReadModel's: fold, then write) writes its rows itself."""
    rows: list[Rows] = []
    for model in models:
        if type(model).project is ReadModel.project:
            rows += model.fold(facts)
        else:
            await model.project(conn, facts)
    await write_together(conn, rows)


_RECORD_EVENTS = (
    'INSERT INTO projected_events (event_id, event_type, topic, "partition", "offset",'
    " event_time) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[],"
    " $5::bigint[], $6::timestamptz[]) ON CONFLICT DO NOTHING RETURNING event_id"
)
_ADVANCE = (
    'INSERT INTO projection_positions (topic, "partition", next_offset)'
    " SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])"
    ' ON CONFLICT (topic, "partition") DO UPDATE'
    " SET next_offset = GREATEST(projection_positions.next_offset, EXCLUDED.next_offset)"
)


class Projector:
    def __init__(self, pool: asyncpg.Pool, models: dict[str, ReadModel] | None = None):
        self.pool = pool
        self.models = READ_MODELS if models is None else models
        # For the metrics endpoint: what this process has done since it started.
        self.projected = 0
        self.dead_lettered = 0
        self.last_event_time = None

    async def apply(self, batch: list[Incoming]) -> list[tuple[Incoming, str]]:
        """Projects a batch; returns the poison with reasons. Transient failures escape."""
        try:
            return await self._apply(batch)
        except Exception as exc:
            if not is_permanent(exc):
                raise
            if len(batch) == 1:
                await self._skip(batch[0])
                self.dead_lettered += 1
                return [(batch[0], describe(exc))]
            half = len(batch) // 2
            return await self.apply(batch[:half]) + await self.apply(batch[half:])

    async def _skip(self, item: Incoming) -> None:
        """Moves the partition's position past an event no read model can take, as if applied,
        so a rebuild aims past it too (and skips it again the same way)."""
        await self.pool.execute(
            'INSERT INTO projection_positions (topic, "partition", next_offset)'
            ' VALUES ($1, $2, $3) ON CONFLICT (topic, "partition") DO UPDATE'
            " SET next_offset = GREATEST(projection_positions.next_offset,"
            " EXCLUDED.next_offset)",
            item.topic,
            item.partition,
            item.offset + 1,
        )

    async def _apply(self, batch: list[Incoming]) -> list[tuple[Incoming, str]]:
        d = decode_batch(batch)
        if not d.next_offsets:
            return d.poison
        ids = list(d.facts)
        tps = list(d.next_offsets)
        # Recording the ids and advancing the positions are independent: one statement.
        sql, args = one_round_trip(
            (
                _RECORD_EVENTS,
                (
                    ids,
                    [d.facts[i].envelope.type for i in ids],
                    [d.where[i].topic for i in ids],
                    [d.where[i].partition for i in ids],
                    [d.where[i].offset for i in ids],
                    [d.facts[i].envelope.time for i in ids],
                ),
            ),
            (
                _ADVANCE,
                ([t for t, _ in tps], [p for _, p in tps], [d.next_offsets[tp] for tp in tps]),
            ),
            returning="SELECT event_id FROM s0",
        )
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetch(sql, *args)
            if fresh:
                await fold(conn, [d.facts[r["event_id"]] for r in fresh], self.models.values())
        self.projected += len(fresh)
        self.dead_lettered += len(d.poison)
        if d.facts:
            newest = max(f.envelope.time for f in d.facts.values())
            self.last_event_time = max(newest, self.last_event_time or newest)
        return d.poison
