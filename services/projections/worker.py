"""The faust-streaming worker that keeps the read models up to date.

faust moves past a batch whatever the agent did with it, so an exception escaping the agent
would skip its events: transient failures (eventkit.failures) are retried here, with backoff,
until they succeed; an event PostgreSQL refuses for good is sorted out by the projector and
dead-lettered with the rest. The group's offsets are the agent's own, committed on a timer and
only past messages already projected or dead-lettered (faust's, driven by its acks, could pass
messages it skipped in a rebalance, and the next owner would skip them too); a crash
re-delivers recent events; the projector's event-id table makes that a no-op.
Messages no read model can apply go to the dead-letter topic with the reason; the worker goes on.
So do messages not signed by their topic's owner (eventkit.signing), refused before the
projector sees them.
"""

import asyncio
import functools
import logging
import tempfile
from typing import Any, cast

import faust
from faust.transport.consumer import Consumer
from faust.types import TP

from eventkit import tracing
from eventkit.db import create_pool, when_database_answers
from eventkit.deadletter import dead_letter_headers
from eventkit.kafka import METADATA_MAX_AGE_MS, faust_credentials
from eventkit.retry import with_backoff
from eventkit.settings import Settings
from eventkit.signing import Verifier
from schemas import topics
from services.projections import dead_letters, gaps
from services.projections.metrics import LagMonitor
from services.projections.projector import Incoming, Projector
from services.projections.signatures import signed_decoded

log = logging.getLogger(__name__)
SOURCE_TOPICS = (
    topics.RECHARGE_EVENTS,
    topics.SANCTIONS_EVENTS,
    topics.GIFTING_EVENTS,
    topics.PAYOUT_EVENTS,
)
# Bumped with migration 002, which empties the read models: the new group replays everything.
GROUP_SUFFIX = "projections-v2"


def source_topics(settings: Settings) -> list[str]:
    return [settings.topic(t) for t in SOURCE_TOPICS]


def create_app(
    settings: Settings,
    batch_size: int = 1000,
    within: float = 0.05,
    metrics_port: int | None = None,
) -> faust.App:
    app = faust.App(
        f"{settings.db_prefix}-{GROUP_SUFFIX}",
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        broker_credentials=faust_credentials(settings, "projections"),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        datadir=tempfile.mkdtemp(prefix="coinstream-faust-"),
        topic_partitions=topics.PARTITIONS,
        # Its own topics (the assignor's) replicate as the contract's do (`make cluster`: 3).
        topic_replication_factor=settings.kafka_replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # A SIGKILLed member holds its partitions until its session expires: keep that short
        # (the broker's minimum is 6 s) so a restarted worker resumes within seconds.
        broker_session_timeout=8.0,
        broker_heartbeat_interval=1.0,
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,  # as every client (eventkit.kafka)
        producer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    # acks=False: faust neither tracks nor commits these offsets. Its own commits follow acks,
    # and it acks the messages it skips as fetched before a rebalance (streams.py, the
    # generation id check), so the group's offsets could pass events nobody projected and the
    # next owner, seeking to them, would skip a range. The offsets committed are the agent's
    # (commit_projected below): only ever what PostgreSQL already holds.
    source = app.topic(*source_topics(settings), value_type=bytes, key_type=bytes, acks=False)
    dead_letter = app.topic(settings.topic(topics.DEAD_LETTER), value_type=bytes, key_type=bytes)
    state: dict = {}
    creating = asyncio.Lock()  # the agent and the metrics task must share one Projector
    if metrics_port is None:
        metrics_port = settings.projections_metrics_port

    async def projector() -> Projector:
        async with creating:
            if "projector" not in state:
                pool = await when_database_answers(
                    lambda: create_pool(settings.database_for("projections"))
                )
                state["projector"] = Projector(pool)
        return state["projector"]

    @app.task
    async def serve_metrics():
        # Its own pool and Kafka client: measuring lag must never wait behind a batch.
        monitor = LagMonitor(settings, source_topics(settings), await projector())
        await monitor.run(metrics_port)

    dead_letters.attach(app, dead_letter, projector)  # the ops view's counts by reason
    verifier = Verifier(settings)

    # A lower bound of each partition's position in PostgreSQL: what this process applied or
    # read there. A batch running on from it without a hole needs no query (gaps.holes).
    known: dict[gaps.Partition, int] = {}
    committed: dict[gaps.Partition, int] = {}

    @app.timer(1.0)
    async def commit_projected():
        # faust's commit path (partitions no longer assigned are left out); a commit lost to a
        # rebalance only means the next owner re-reads a little, and repeats are no-ops.
        due = {TP(*tp): o for tp, o in known.items() if committed.get(tp) != o}
        consumer = cast(Consumer, app.consumer)
        if due and await consumer._commit_offsets(due):
            committed.update({(tp.topic, tp.partition): o for tp, o in due.items()})

    async def without_holes(events) -> list[tuple[Incoming, Any]]:
        items = [
            (
                Incoming(
                    e.message.value,
                    e.message.key,
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                ),
                e.message.headers,
            )
            for e in events
        ]
        offsets: dict[gaps.Partition, list[int]] = {}
        for item, _ in items:
            offsets.setdefault((item.topic, item.partition), []).append(item.offset)
        if not gaps.holes(offsets, known):
            return items
        pool = (await projector()).pool
        known.update(await with_backoff(lambda: gaps.positions(pool, list(offsets)), _any, log))
        found = gaps.holes(offsets, known)
        for tp, (start, end) in found.items():
            log.warning("%s[%s]: offsets %s-%s not delivered; reading them again", *tp, start, end)
            read = functools.partial(gaps.read_range, settings, tp, start, end)
            records = await with_backoff(read, _any, log)
            items = [i for i in items if (i[0].topic, i[0].partition) != tp] + [
                (Incoming(r.value, r.key, r.topic, r.partition, r.offset), r.headers)
                for r in records
            ]
        return items

    @app.agent(source, concurrency=1)
    async def project(stream):
        async for events in stream.take_events(batch_size, within=within):
            messages = await without_holes(events)
            batch, forged = signed_decoded(verifier, messages)
            # The receive and fold spans of the batch (eventkit.tracing; nothing when off).
            with tracing.projecting([(e.message.topic, e.message.headers) for e in events]):
                poison = forged + await _apply_with_retry(await projector(), batch)
            if forged:
                await _skip_with_retry(await projector(), [item for item, _ in forged])
            for item, reason in poison:
                log.warning(
                    "dead-lettering %s[%s]@%s: %s", item.topic, item.partition, item.offset, reason
                )
                fut = await dead_letter.send(
                    key=item.key,
                    value=item.value or b"",
                    headers=dead_letter_headers(
                        reason, item.topic, item.partition, item.offset, "projections"
                    ),
                )
                await fut
            for item, _ in messages:  # each one now projected or dead-lettered
                tp = (item.topic, item.partition)
                known[tp] = max(known.get(tp, 0), item.offset + 1)

    return app


def _any(exc: Exception) -> bool:
    return True


async def _skip_with_retry(projector: Projector, items: list[Incoming]) -> None:
    # Positions move past a refused message as past any poison, so lag reads 0 and a rebuild
    # (which refuses it the same way) aims past it too.
    async def skip_all() -> None:  # idempotent (positions only grow), so safe to retry whole
        for item in items:
            await projector._skip(item)

    await with_backoff(skip_all, lambda exc: True, log)
    projector.dead_lettered += len(items)


async def _apply_with_retry(projector: Projector, batch: list[Incoming]):
    # Every failure is retried: the projector returns the permanent ones itself, and anything
    # escaping the agent would have faust ack the batch unapplied.
    return await with_backoff(lambda: projector.apply(batch), lambda exc: True, log)
