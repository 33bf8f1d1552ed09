"""Rebuild read models from the topics while the live worker keeps serving.

1. Create empty copies of the chosen models' tables in the schema `rebuild`.
2. Replay every source topic from the beginning with a plain consumer (no group, so the live
   worker's offsets are untouched) up to the live worker's recorded positions, folding batches
   into the copies with the very same read-model code (search_path points at `rebuild`).
   Repeat while the live worker moves on, until the gap is small.
3. In ONE transaction: lock `projected_events` in SHARE mode (the live worker's next batch waits
   at its first statement), replay the last gap up to the now frozen positions, drop the live
   tables, move the copies into `public`, re-create the analytics views, commit.

The copies then hold exactly the events the live worker had projected (a partition's processed
offsets are always a prefix), so the worker resumes on them as if nothing happened; readers wait
only for the swap itself. Events already dead-lettered are skipped again: those not signed by
their topic's owner (services/projections/signatures.py), those that do not decode, and those
PostgreSQL refuses for good (eventkit.failures; found by halving the batch, as the live
projector does).
"""

import asyncio
import gc
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from eventkit.db import init_connection, owner_connect
from eventkit.failures import describe, is_permanent
from eventkit.kafka import client_options
from eventkit.settings import Settings
from eventkit.signing import Verifier
from services.projections.offsets import positions, topic_partitions
from services.projections.projector import decode_batch
from services.projections.read_models import READ_MODELS, ReadModel
from services.projections.signatures import signed_only
from services.projections.upsert import Rows

log = logging.getLogger(__name__)
SHADOW = "rebuild"
_LOCK = 0x0C01_5EB1  # one rebuild at a time per database
MIGRATIONS = Path(__file__).with_name("migrations")


def analytics_sql() -> str:
    """The newest analytics migration: idempotent (drops and re-creates the schema `analytics`),
    re-run by every swap because dropping a table drops the views over it."""
    return sorted(MIGRATIONS.glob("*analytics*.sql"))[-1].read_text()


@dataclass
class Report:
    models: list[str]
    events: int = 0
    messages: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def chosen(names: list[str] | None) -> list[ReadModel]:
    unknown = set(names or ()) - READ_MODELS.keys()
    if unknown:
        raise SystemExit(f"unknown read model(s) {sorted(unknown)}; known: {sorted(READ_MODELS)}")
    return [READ_MODELS[n] for n in (names or READ_MODELS)]


class Replay:
    """Reads the source topics from the beginning, exactly up to target offsets."""

    def __init__(self, settings: Settings, topics: list[str], batch_size: int):
        self.settings, self.topics, self.batch_size = settings, topics, batch_size
        self.verifier = Verifier(settings)
        self.consumer = AIOKafkaConsumer(
            **client_options(settings, "projections"),
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        self.position: dict[TopicPartition, int] = {}
        self.target: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self.consumer.start()
        tps = await topic_partitions(self.consumer, self.topics)
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        for tp in tps:
            self.position[tp] = await self.consumer.position(tp)
        self.consumer.pause(*tps)

    async def stop(self) -> None:
        await self.consumer.stop()

    def aim(self, targets: dict[tuple[str, int], int]) -> int:
        """Sets new targets; returns how many messages remain to read."""
        for tp in self.position:
            self.target[tp] = targets.get((tp.topic, tp.partition), 0)
            if self.position[tp] < self.target[tp]:
                self.consumer.resume(tp)
        return self.remaining()

    def remaining(self) -> int:
        return sum(max(0, self.target[tp] - self.position[tp]) for tp in self.position)

    async def batches(self):
        """Yields lists of records until every partition reached its target (aiokafka's
        ConsumerRecord has Incoming's fields, so it is used as is)."""
        while self.remaining():
            got = await self.consumer.getmany(timeout_ms=500, max_records=self.batch_size)
            batch: list[ConsumerRecord] = []
            for tp, records in got.items():
                if not records:
                    continue
                end = self.target[tp]
                batch += (
                    records if records[-1].offset < end else [r for r in records if r.offset < end]
                )
                self.position[tp] = min(records[-1].offset + 1, max(end, self.position[tp]))
                if self.position[tp] >= end:
                    # Whatever was fetched beyond the target is read again next time.
                    self.consumer.pause(tp)
                    self.consumer.seek(tp, self.position[tp])
            # The live worker refused (and dead-lettered) what is not signed by its topic's owner.
            batch, _ = signed_only(self.verifier, [(r, r.headers) for r in batch])
            if batch:
                yield batch


async def rebuild(
    settings: Settings,
    names: list[str] | None = None,
    batch_size: int = 5000,
    small_gap: int = 2000,
) -> Report:
    from services.projections.worker import source_topics

    models = chosen(names)
    report = Report([m.name for m in models])
    started = time.perf_counter()
    # Swapping tables is DDL: as the owner (an ops tool's admin credentials), so the new tables
    # are the owner's and carry the default grants of the worker's and read API's roles.
    conn = await owner_connect(settings, "projections")
    await init_connection(conn)
    replay = Replay(settings, source_topics(settings), batch_size)
    seen: set = set()
    # Decoding allocates ~10 container objects per event that die by reference counting; the
    # cyclic collector would rescan them (and everything alive) thousands of times and cost
    # about 2/3 of the decoding time. Collect by hand between batches instead.
    gc.disable()
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK):
            raise SystemExit("another rebuild is running on this database")
        await create_shadow(conn, models)
        await replay.start()
        while replay.aim(await positions(conn)) > small_gap:
            await replay_into_shadow(conn, replay, models, seen, report)
        async with conn.transaction():
            await conn.execute("LOCK TABLE projected_events IN SHARE MODE")
            replay.aim(await positions(conn))
            await replay_into_shadow(conn, replay, models, seen, report, in_transaction=True)
            await swap(conn, models)
        for model in models:
            for table in model.tables:
                report.rows[table.name] = await conn.fetchval(f"SELECT count(*) FROM {table.name}")
    finally:
        gc.enable()
        await replay.stop()
        await conn.close()
    report.events = len(seen)
    report.seconds = time.perf_counter() - started
    return report


async def create_shadow(conn: asyncpg.Connection, models: list[ReadModel]) -> None:
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE; CREATE SCHEMA {SHADOW}")
        for model in models:
            for table in model.tables:
                await conn.execute(
                    f"CREATE TABLE {SHADOW}.{table.name} (LIKE public.{table.name} INCLUDING ALL)"
                )


async def replay_into_shadow(
    conn, replay: Replay, models, seen: set, report: Report, in_transaction: bool = False
) -> None:
    """Decodes and folds batch k+1 while PostgreSQL writes batch k (one write at a time, in
    order): Python's CPU and the database's then overlap instead of taking turns."""
    writing: asyncio.Task | None = None
    async for batch in replay.batches():
        report.messages += len(batch)
        facts = []
        for i in range(0, len(batch), 500):
            decoded = decode_batch(batch[i : i + 500])
            # ints, not UUIDs: a set of millions of GC-tracked objects slows every collection
            facts += [f for e, f in decoded.facts.items() if e.int not in seen]
            seen.update(e.int for e in decoded.facts)
            await asyncio.sleep(0)  # let the write in flight send its next statement
        rows = []
        for model in models:
            rows += model.fold(facts)
            await asyncio.sleep(0)
        if in_transaction:
            await _write_or_halve(conn, rows, facts, models)
            continue
        if writing:
            await writing
        writing = asyncio.create_task(_write_batch(conn, rows, facts, models))
        if report.messages % 100_000 < len(batch):
            gc.collect()
    if writing:
        await writing


async def _write_batch(conn, rows: list[Rows], facts: list, models) -> None:
    async with conn.transaction():
        # A lost rebuild batch is simply redone by running the rebuild again.
        await conn.execute("SET LOCAL synchronous_commit = off")
        await _write_or_halve(conn, rows, facts, models)


async def _write_or_halve(conn, rows: list[Rows], facts: list, models) -> None:
    """Writes the rows under a savepoint. When PostgreSQL refuses them for good, folds and
    writes each half of the facts on its own, down to the one event it refuses, which is
    skipped: the live worker dead-lettered that same event."""
    try:
        async with conn.transaction():
            await _write_into_shadow(conn, rows)
    except Exception as exc:
        if not is_permanent(exc):
            raise
        if len(facts) <= 1:
            log.warning("rebuild skips %s: %s", [f.envelope.id for f in facts], describe(exc))
            return
        half = len(facts) // 2
        for part in (facts[:half], facts[half:]):
            await _write_or_halve(conn, [r for m in models for r in m.fold(part)], part, models)


async def _write_into_shadow(conn, rows: list[Rows]) -> None:
    await conn.execute(f"SET LOCAL search_path = {SHADOW}, public")
    for r in rows:
        await r.write(conn)
    await conn.execute("SET LOCAL search_path = public")


async def swap(conn: asyncpg.Connection, models: list[ReadModel]) -> None:
    await conn.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
    for model in models:
        for table in model.tables:
            await conn.execute(f"DROP TABLE public.{table.name}")
            await conn.execute(f"ALTER TABLE {SHADOW}.{table.name} SET SCHEMA public")
    await conn.execute(analytics_sql())
    await conn.execute(f"DROP SCHEMA {SHADOW} CASCADE")
