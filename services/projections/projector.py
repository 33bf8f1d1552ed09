"""Projects batches of raw Kafka messages into the read models, effectively once.

One transaction per batch: record the batch's event ids (a repeat is skipped), then let every
read model fold in the fresh events. Undecodable messages are returned for the dead-letter topic.
"""

from dataclasses import dataclass

import asyncpg

from eventkit.codec import PoisonMessage, decode
from services.projections.read_models import READ_MODELS, Fact


@dataclass(frozen=True)
class Incoming:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int


class Projector:
    def __init__(self, pool: asyncpg.Pool, models: dict | None = None):
        self.pool = pool
        self.models = READ_MODELS if models is None else models

    async def apply(self, batch: list[Incoming]) -> list[tuple[Incoming, str]]:
        facts: dict = {}
        where: dict = {}
        poison: list[tuple[Incoming, str]] = []
        for item in batch:
            try:
                envelope, payload = decode(item.value)
            except PoisonMessage as exc:
                poison.append((item, exc.reason))
                continue
            if envelope.id not in facts:
                facts[envelope.id] = Fact(envelope, payload)
                where[envelope.id] = item
        if facts:
            ids = list(facts)
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = await conn.fetch(
                    'INSERT INTO projected_events (event_id, event_type, topic, "partition",'
                    ' "offset", event_time) SELECT * FROM unnest($1::uuid[], $2::text[],'
                    ' $3::text[], $4::int[], $5::bigint[], $6::timestamptz[])'
                    " ON CONFLICT DO NOTHING RETURNING event_id",
                    ids, [facts[i].envelope.type for i in ids], [where[i].topic for i in ids],
                    [where[i].partition for i in ids], [where[i].offset for i in ids],
                    [facts[i].envelope.time for i in ids])
                fresh_facts = [facts[r["event_id"]] for r in fresh]
                for model in self.models.values():
                    await model(conn, fresh_facts)
        return poison
