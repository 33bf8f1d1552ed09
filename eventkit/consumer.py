"""Idempotent consumer: each event's id is recorded in the same transaction as its effect.

Offsets are committed only after the database commit, so a crash re-delivers and the recorded
id turns the repeat into a no-op. Messages no handler can apply go to the dead-letter topic
with the reason in a header; the consumer goes on with the next one. That covers messages not
signed by their topic's owner (eventkit.signing, checked before the payload is parsed), not in
our CloudEvents Kafka binding or keyed by anything but their aggregateid (eventkit.binding), and
messages that decode but fail when applied in a way retrying cannot fix (eventkit.failures: a
value or a constraint PostgreSQL refuses): each event is applied under its own savepoint, so
such a failure undoes only that event, which is dead-lettered while the rest of the batch
commits.
Only transient failures (connection lost, serialization failure, deadlock, ...) retry the batch.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from eventkit import binding, metrics, tracing
from eventkit.codec import PoisonMessage, decode
from eventkit.deadletter import dead_letter_headers
from eventkit.failures import describe, is_permanent
from eventkit.kafka import client_options, producer
from eventkit.retry import with_backoff
from eventkit.settings import Settings
from eventkit.signing import Verifier
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.base import Payload

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
# Applies one event whose payload is a P (a Handler[GiftSent] takes GiftSent payloads).
Handler = Callable[[asyncpg.Connection, Envelope, P], Awaitable[None]]
# Applies several events at once, in order, as the Handler of their type would one by one.
BatchHandler = Callable[[asyncpg.Connection, Sequence[tuple[Envelope, P]]], Awaitable[None]]
# By event type name. The registry decodes a type name into one payload class, so a handler
# filed by handle() under its class's name only ever meets payloads of that class.
Handlers = dict[str, Handler[Any]]
BatchHandlers = dict[str, BatchHandler[Any]]


def handle(model: type[P], handler: Handler[P]) -> tuple[str, Handler[Any]]:
    """One entry of a Handlers dict, `dict([handle(GiftSent, on_gift), ...])`: the type checker
    ties the handler to the payload class whose type name it is filed under."""
    return model.event_type, handler


def handle_batch(model: type[P], handler: BatchHandler[P]) -> tuple[str, BatchHandler[Any]]:
    """handle() for a BatchHandler."""
    return model.event_type, handler


Event = tuple[Envelope, Payload]
# A record with its event, or with the reason it is poison.
Decoded = tuple[ConsumerRecord, Event | str]


def _decode(verifier: Verifier, record: ConsumerRecord) -> Decoded:
    try:
        # Before anything parses it: only the topic owner's signed bytes get that far.
        verifier.check(record.topic, record.key, record.value, record.headers)
        binding.check_headers(record.headers)
        envelope, payload = decode(record.value)
        binding.check_event(record.key, record.headers, envelope)
        return record, (envelope, payload)
    except PoisonMessage as exc:
        return record, exc.reason


async def send_dead_letter(
    dlq_producer: AIOKafkaProducer,
    settings: Settings,
    record: ConsumerRecord,
    reason: str,
    group: str,
) -> None:
    headers = dead_letter_headers(reason, record.topic, record.partition, record.offset, group)
    await dlq_producer.send_and_wait(
        settings.topic(topics.DEAD_LETTER), value=record.value, key=record.key, headers=headers
    )


class IdempotentConsumer:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        group: str,
        source_topics: list[str],
        handlers: Handlers,
        batch_handlers: BatchHandlers | None = None,
        *,
        principal: str,  # the Kafka principal it reads (and dead-letters) as (eventkit.kafka)
    ):
        self.settings, self.pool, self.group = settings, pool, group
        self.principal = principal
        self.source_topics = [settings.topic(t) for t in source_topics]
        self.handlers = handlers
        self.batch_handlers = batch_handlers or {}
        self.verifier = Verifier(settings)
        self.consumer: AIOKafkaConsumer | None = None
        self.dlq: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.consumer = consumer = AIOKafkaConsumer(
            *self.source_topics,
            **client_options(self.settings, self.principal),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self.dlq = dlq = producer(self.settings, self.principal)
        await dlq.start()
        await consumer.start()

    def _started(self) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
        if self.consumer is None or self.dlq is None:
            raise RuntimeError("the consumer is not started")
        return self.consumer, self.dlq

    async def stop(self) -> None:
        for client in (self.consumer, self.dlq):
            if client:
                await client.stop()
        self.consumer = self.dlq = None

    async def apply(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str]]:
        """Applies a batch in one transaction; returns the poison records with their reasons.
        A transient failure escapes (the caller retries the whole batch)."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                poison = []
                runs = self._runs([_decode(self.verifier, r) for r in records])
                for run in runs:
                    poison += await self._apply_run(conn, run, alone=len(runs) == 1)
                return poison
        except Exception as exc:
            if not is_permanent(exc):
                raise
            if len(records) == 1:
                return [(records[0], describe(exc))]
            # Refused outside any savepoint (at commit, or a run that was the whole batch):
            # one transaction per event finds it.
            return [p for record in records for p in await self.apply([record])]

    def _runs(self, decoded: list[Decoded]) -> list[list[Decoded]]:
        """Consecutive events that share a batch handler form one run; any other event is a
        run of its own. Order is kept, so a run applies exactly as its events would singly."""
        runs: list[list[Decoded]] = []
        for item in decoded:
            batch = self._batch_of(item)
            last = runs[-1] if runs else None
            if batch and last and self._batch_of(last[0]) is batch:
                last.append(item)
            else:
                runs.append([item])
        return runs

    def _batch_of(self, item: Decoded) -> BatchHandler[Any] | None:
        event = item[1]
        return None if isinstance(event, str) else self.batch_handlers.get(event[0].type)

    async def _apply_run(
        self, conn: asyncpg.Connection, run: list[Decoded], alone: bool = False
    ) -> list[tuple[ConsumerRecord, str]]:
        if len(run) > 1:  # events only, sharing a batch handler (_runs)
            events = [(record, event) for record, event in run if not isinstance(event, str)]
            if alone:
                # The run is the whole batch (a storm's usual case): the batch's transaction
                # is its savepoint. A refusal escapes to apply(), which applies the records
                # one per transaction: the same outcome, two round trips fewer per batch.
                with tracing.processing_batch(
                    run[0][0].topic, self.group, [r.headers for r, _ in events]
                ):
                    await self._apply_together(conn, events)
                return []
            try:
                async with conn.transaction():  # savepoint: a refusal falls back to one by one
                    with tracing.processing_batch(
                        run[0][0].topic, self.group, [r.headers for r, _ in events]
                    ):
                        await self._apply_together(conn, events)
                return []
            except Exception as exc:
                if not is_permanent(exc):
                    raise
                log.warning(
                    "a run of %d %s refused together (%s); applying one by one",
                    len(run),
                    events[0][1][0].type,
                    describe(exc),
                )
        return [p for item in run if (p := await self._apply_one(conn, item))]

    async def _apply_together(
        self, conn: asyncpg.Connection, run: list[tuple[ConsumerRecord, Event]]
    ) -> None:
        fresh = {
            r["event_id"]
            for r in await conn.fetch(
                "INSERT INTO processed_events (event_id, topic)"
                " SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING"
                " RETURNING event_id",
                [e.id for _, (e, _) in run],
                [r.topic for r, _ in run],
            )
        }
        todo = []
        for _, (envelope, payload) in run:
            if envelope.id in fresh:
                fresh.discard(envelope.id)  # a duplicate later in the run is a repeat
                todo.append((envelope, payload))
        if todo:
            await self.batch_handlers[run[0][1][0].type](conn, todo)

    async def _apply_one(
        self, conn: asyncpg.Connection, item: Decoded
    ) -> tuple[ConsumerRecord, str] | None:
        """Applies one event under a savepoint; returns it with a reason when it is poison."""
        record, event = item
        if isinstance(event, str):
            return record, event
        envelope, payload = event
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return None  # a valid event this service has no interest in
        flow = tracing.CORRELATION_ID.set(str(envelope.correlationid))
        try:
            with tracing.processing(record.topic, self.group, record.headers):
                async with conn.transaction():  # savepoint: a refused event undoes only itself
                    fresh = await conn.fetchval(
                        "INSERT INTO processed_events (event_id, topic) VALUES ($1, $2)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        envelope.id,
                        record.topic,
                    )
                    if fresh:
                        await handler(conn, envelope, payload)
        except PoisonMessage as exc:
            return record, exc.reason
        except Exception as exc:
            if not is_permanent(exc):
                raise
            return record, describe(exc)
        finally:
            tracing.CORRELATION_ID.reset(flow)
        return None

    async def run(self) -> None:
        """Consumes forever; database or broker outages are retried, never skipped."""
        while True:
            try:
                await self.start()
                consumer, dlq = self._started()
                measured = 0.0
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=500)
                    if time.monotonic() - measured >= 1.0:  # lag: local figures, no broker call
                        await self._measure_lag(consumer)
                        measured = time.monotonic()
                    records = [r for batch in batches.values() for r in batch]
                    if not records:
                        continue
                    poison = await self._apply_with_retry(records)
                    self._count(records, poison)
                    for record, reason in poison:
                        log.warning(
                            "dead-lettering %s[%s]@%s: %s",
                            record.topic,
                            record.partition,
                            record.offset,
                            reason,
                        )
                        await send_dead_letter(dlq, self.settings, record, reason, self.group)
                    await consumer.commit()
            except Exception as exc:  # noqa: BLE001 - outage: reconnect, offsets are safe
                log.warning("consumer %s interrupted (%r); retrying in 1s", self.group, exc)
                await asyncio.sleep(1)
            finally:
                await self.stop()

    def _count(self, records: list[ConsumerRecord], poison: list[tuple[ConsumerRecord, str]]):
        dead = {id(record) for record, _ in poison}
        for record in records:
            family = (
                metrics.CONSUMER_DEAD_LETTERED if id(record) in dead else metrics.CONSUMER_PROCESSED
            )
            family.labels(self.group, record.topic).inc()

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """The broker's high watermark (from the last fetch) minus the group's position."""
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue  # nothing fetched from it yet
            position = await consumer.position(tp)
            lag = max(0, high - position)
            metrics.CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(lag)

    async def _apply_with_retry(
        self, records: list[ConsumerRecord]
    ) -> list[tuple[ConsumerRecord, str]]:
        # apply() dead-letters the permanent failures; one escaping is never retried forever.
        return await with_backoff(
            lambda: self.apply(records), lambda exc: not is_permanent(exc), log
        )
