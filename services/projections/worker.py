"""The faust-streaming worker that keeps the read models up to date.

faust acks an event in a `finally`, so an exception escaping the agent would skip its events:
transient failures (eventkit.failures) are retried here, with backoff, until they succeed; an
event PostgreSQL refuses for good is sorted out by the projector and dead-lettered with the rest. Offsets commit on a timer, so
a crash re-delivers recent events; the projector's event-id table makes that a no-op.
Messages no read model can apply go to the dead-letter topic with the reason; the worker goes on.
So do messages not signed by their topic's owner (eventkit.signing), refused before the
projector sees them.
"""

import asyncio
import logging
import tempfile

import faust

from eventkit import tracing
from eventkit.db import create_pool, when_database_answers
from eventkit.deadletter import dead_letter_headers
from eventkit.kafka import faust_credentials
from eventkit.retry import with_backoff
from eventkit.settings import Settings
from eventkit.signing import Verifier
from schemas import topics
from services.projections import dead_letters
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
    )
    source = app.topic(*source_topics(settings), value_type=bytes, key_type=bytes)
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

    @app.agent(source, concurrency=1)
    async def project(stream):
        async for events in stream.take_events(batch_size, within=within):
            batch, forged = signed_decoded(
                verifier,
                [
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
                ],
            )
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

    return app


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
