"""Two projections worker processes in one consumer group (real Kafka and PostgreSQL), one of
them SIGKILLed mid-stream round after round: the survivor takes the dead one's partitions over
and, whatever offsets faust committed around the rebalances, every published event is projected
exactly once and every partition's offsets are all accounted for, with no range skipped."""

import asyncio
import random
import signal

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from eventkit.kafka import client_options
from scripts.projections_crash import WorkerProcess, drop_faust_topics, wait_caught_up
from services.projections.offsets import end_offsets
from services.projections.worker import GROUP_SUFFIX, source_topics
from tests.support.synthetic import generate, publish

ROUNDS = 5


async def progress(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM projection_positions")


async def wait_moving(
    conn: asyncpg.Connection, settings, producing: asyncio.Task, timeout: float = 30
) -> None:
    """Until the group projects something new (both members joined and working), or, once
    everything is published, until it has projected it all: on a slow machine the last rounds
    can come after the load, when there is nothing new left to project."""
    before = await progress(conn)
    deadline = asyncio.get_running_loop().time() + timeout
    while (now := await progress(conn)) == before:
        if producing.done():
            ends = await end_offsets(settings, source_topics(settings))
            if now == sum(ends.values()):
                return
        assert asyncio.get_running_loop().time() < deadline, "nobody projects"
        await asyncio.sleep(0.05)


async def test_the_survivor_of_a_killed_instance_projects_every_event_once(namespace):
    settings = await namespace("ho")
    rng = random.Random(7)
    messages = generate(12000, seed=7, duplicates=0)
    # ~40 s of load, more than the survivor catches up on while a rebalance is due
    chunks = [messages[i : i + 300] for i in range(0, len(messages), 300)]
    workers = [WorkerProcess(settings), WorkerProcess(settings)]
    conn = await asyncpg.connect(settings.database_for("projections"))
    try:
        for w in workers:
            w.start()

        async def produce() -> None:
            for chunk in chunks:
                await publish(settings, chunk)
                await asyncio.sleep(rng.uniform(0.2, 0.6))

        producing = asyncio.create_task(produce())
        for turn in range(ROUNDS):
            victim = workers[turn % 2]
            await wait_moving(conn, settings, producing)
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            victim.kill()  # SIGKILL: no commit, no leave; the group notices after the session
            # Back sometimes before its session expires (a rebalance while one is due), sometimes
            # after the survivor has taken everything over.
            await asyncio.sleep(rng.uniform(1.0, 10.0))
            victim.start()
        await producing
        await wait_caught_up(settings, conn, timeout=60)

        rows = await conn.fetch(
            'SELECT event_id, topic, "partition", "offset" FROM projected_events'
        )
        assert sorted(str(r["event_id"]) for r in rows) == sorted(
            str(m.envelope.id) for m in messages
        )
        # Each partition's offsets, every one of them projected (the stream has no poison).
        ends = await end_offsets(settings, source_topics(settings))
        seen: dict[tuple[str, int], set[int]] = {}
        for r in rows:
            seen.setdefault((r["topic"], r["partition"]), set()).add(r["offset"])
        missing = {
            tp: sorted(set(range(end)) - seen.get(tp, set()))
            for tp, end in ends.items()
            if set(range(end)) - seen.get(tp, set())
        }
        assert missing == {}
        positions = await conn.fetch(
            'SELECT topic, "partition", next_offset FROM projection_positions'
        )
        assert {(r["topic"], r["partition"]): r["next_offset"] for r in positions} == {
            tp: end for tp, end in ends.items() if end
        }
    finally:
        await conn.close()
        for w in workers:
            w.kill(signal.SIGTERM)
        await drop_faust_topics(settings)


async def test_committed_offsets_past_the_projected_positions_skip_nothing(namespace):
    """The hole the handover left, made on purpose: the group's committed offsets run past
    events nobody projected (as faust's did, acking what it skipped in a rebalance). The worker
    takes PostgreSQL's positions for the truth and projects them all the same."""
    settings = await namespace("hc")
    messages = generate(300, seed=11, duplicates=0)
    await publish(settings, messages)
    ends = await end_offsets(settings, source_topics(settings))
    ahead = {TopicPartition(*tp): OffsetAndMetadata(end // 2 + 1, "") for tp, end in ends.items()}
    group = AIOKafkaConsumer(
        **client_options(settings, "projections"),
        group_id=f"{settings.db_prefix}-{GROUP_SUFFIX}",
        enable_auto_commit=False,
    )
    await group.start()
    try:
        group.assign(list(ahead))
        await group.commit(ahead)
    finally:
        await group.stop()
    worker = WorkerProcess(settings)
    conn = await asyncpg.connect(settings.database_for("projections"))
    try:
        worker.start()
        await wait_caught_up(settings, conn, timeout=60)
        ids = await conn.fetch("SELECT event_id FROM projected_events")
        assert sorted(str(r["event_id"]) for r in ids) == sorted(
            str(m.envelope.id) for m in messages
        )
    finally:
        await conn.close()
        worker.kill(signal.SIGTERM)
        await drop_faust_topics(settings)
