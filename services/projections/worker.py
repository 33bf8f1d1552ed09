"""The faust-streaming worker that keeps the read models up to date.

faust acks an event in a `finally`, so an exception escaping the agent would skip its events:
database errors are retried here, with backoff, until they succeed. Offsets commit on a timer, so
a crash re-delivers recent events; the projector's event-id table makes that a no-op.
"""

import asyncio
import logging
import tempfile

import asyncpg
import faust

from eventkit.db import create_pool
from eventkit.settings import Settings
from schemas import topics
from services.projections.projector import Incoming, Projector

log = logging.getLogger(__name__)
SOURCE_TOPICS = (topics.RECHARGE_EVENTS, topics.GIFTING_EVENTS, topics.PAYOUT_EVENTS)


def create_app(settings: Settings, batch_size: int = 1000, within: float = 0.2) -> faust.App:
    app = faust.App(
        f"{settings.db_prefix}-projections",
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        value_serializer="raw", key_serializer="raw",
        web_enabled=False, datadir=tempfile.mkdtemp(prefix="coinstream-faust-"),
        topic_partitions=topics.PARTITIONS,
        consumer_auto_offset_reset="earliest", broker_commit_interval=1.0,
    )
    source = app.topic(*(settings.topic(t) for t in SOURCE_TOPICS), value_type=bytes,
                       key_type=bytes)
    dead_letter = app.topic(settings.topic(topics.DEAD_LETTER), value_type=bytes, key_type=bytes)
    state: dict = {}

    async def projector() -> Projector:
        if "projector" not in state:
            state["projector"] = Projector(await create_pool(settings.database_for("projections")))
        return state["projector"]

    @app.agent(source, concurrency=1)
    async def project(stream):
        async for events in stream.take_events(batch_size, within=within):
            batch = [Incoming(e.message.value, e.message.key, e.message.topic,
                              e.message.partition, e.message.offset) for e in events]
            poison = await _apply_with_retry(await projector(), batch)
            for item, reason in poison:
                log.warning("dead-lettering %s[%s]@%s: %s", item.topic, item.partition,
                            item.offset, reason)
                fut = await dead_letter.send(
                    key=item.key, value=item.value or b"",
                    headers={"reason": reason.encode()[:4000], "topic": item.topic.encode(),
                             "partition": str(item.partition).encode(),
                             "offset": str(item.offset).encode(),
                             "consumer": b"projections"})
                await fut

    return app


async def _apply_with_retry(projector: Projector, batch: list[Incoming]):
    delay = 0.2
    while True:
        try:
            return await projector.apply(batch)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("database error (%r); retrying batch in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)
