"""Where the projections stand: the source topics' partitions and end offsets (read without
joining any consumer group) against the positions the projector records in PostgreSQL."""

import asyncio
import time

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.kafka import client_options
from eventkit.settings import Settings


async def topic_partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    # A group-less consumer learns partitions only for topics its client tracks.
    await consumer._client.set_topics(topics)
    return [
        TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
    ]


async def end_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(**client_options(settings, "projections"), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topics)
        return {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def positions(db: asyncpg.Connection | asyncpg.Pool) -> dict[tuple[str, int], int]:
    """Every partition's next offset to project, as the projector recorded it."""
    rows = await db.fetch('SELECT topic, "partition", next_offset FROM projection_positions')
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def behind(settings: Settings, conn: asyncpg.Connection, topics: list[str]) -> int:
    """Messages on `topics` not projected yet."""
    ends = await end_offsets(settings, topics)
    done = await positions(conn)
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


async def wait_caught_up(
    settings: Settings, conn: asyncpg.Connection, topics: list[str], timeout: float = 120
) -> float:
    """Waits until nothing on `topics` is left to project; returns the seconds it took."""
    started = time.monotonic()
    while (lag := await behind(settings, conn, topics)) > 0:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"projections still {lag} messages behind after {timeout}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started
