"""Offset ranges faust's fetcher did not deliver, found and read again before a batch applies.

PostgreSQL's projection_positions (written in each batch's transaction) say how far every
partition is projected; the group's committed offsets and faust's fetch positions are only
hints. Around a rebalance faust can deliver a partition from further on than that: records
fetched at the old position arrive after its seek to the committed offset, its read offset
jumps past the range and it drops the range when it comes (transport/consumer.py,
_drain_messages). Applying such a batch would move the position past events never projected.
So a batch whose offsets for a partition do not run on from its position without a hole gets
that partition's messages read again straight from Kafka, from the position to the batch's last
offset. Our producers are idempotent, not transactional (eventkit.kafka), so the source topics
carry no control records: consecutive offsets are the normal case and a hole is a loss.
"""

from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.kafka import client_options
from eventkit.settings import Settings

Partition = tuple[str, int]


def holes(offsets: dict[Partition, list[int]], start: dict[Partition, int]) -> dict:
    """Per partition with a hole, the range [from, to) to read again: from its position (the
    next offset PostgreSQL holds, 0 if none) to just past the batch's last offset. `offsets`:
    the batch's offsets per partition, in the order they came."""
    out = {}
    for tp, seen in offsets.items():
        expected = start.get(tp, 0)
        ahead = sorted({o for o in seen if o >= expected})
        if ahead and ahead[-1] - expected + 1 != len(ahead):  # not expected, expected+1, ...
            out[tp] = (expected, ahead[-1] + 1)
    return out


async def read_range(settings: Settings, tp: Partition, start: int, end: int) -> list:
    """The partition's records with offsets in [start, end), straight from Kafka (no group):
    fewer if retention already deleted the first ones."""
    consumer = AIOKafkaConsumer(
        **client_options(settings, "projections"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        part = TopicPartition(*tp)
        consumer.assign([part])
        consumer.seek(part, start)
        records: list = []
        while await consumer.position(part) < end:
            got = await consumer.getmany(part, timeout_ms=1000)
            records += [r for r in got.get(part, []) if start <= r.offset < end]
        return records
    finally:
        await consumer.stop()


async def positions(pool, tps: list[Partition]) -> dict[Partition, int]:
    """The partitions' positions in PostgreSQL (the next offset to project; absent: 0)."""
    rows = await pool.fetch(
        'SELECT topic, "partition", next_offset FROM projection_positions'
        ' WHERE (topic, "partition") IN (SELECT * FROM unnest($1::text[], $2::int[]))',
        [t for t, _ in tps],
        [p for _, p in tps],
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
