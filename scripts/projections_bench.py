"""Projections throughput: replays N generated events from Kafka and prints events/s for
the batched rebuild (services.projections.rebuild) and for a naive projector that commits one
event per transaction (the same read-model code, batches of one), in one run.

    python -m scripts.projections_bench [--events 100000 --naive-events 5000 --batch 5000]

Runs in a namespace of its own (databases + topics), dropped afterwards. Not a timed test: the
figures depend on the machine; docs/analytics.md records what this one gave.
"""

import argparse
import asyncio
import gc
import time
import uuid

import asyncpg

from eventkit.db import create_pool
from eventkit.settings import Settings
from infra.namespace import drop_namespace, prepare_namespace
from services.projections.offsets import end_offsets
from services.projections.projector import Projector
from services.projections.rebuild import Replay, rebuild
from services.projections.worker import source_topics
from tests.support.synthetic import generate, publish


async def naive(settings: Settings, count: int) -> tuple[int, float]:
    """One message per transaction, straight off the topics."""
    pool = await create_pool(settings.database_for("projections"), max_size=2)
    projector = Projector(pool)
    replay = Replay(settings, source_topics(settings), batch_size=500)
    await replay.start()
    replay.aim(await end_offsets(settings, source_topics(settings)))
    done, started = 0, time.perf_counter()
    try:
        async for batch in replay.batches():
            for message in batch:
                await projector.apply([message])
                done += 1
                if done >= count:
                    return done, time.perf_counter() - started
        return done, time.perf_counter() - started
    finally:
        await replay.stop()
        await pool.close()


async def pretend_live_worker_reached_the_end(settings: Settings) -> None:
    """The rebuild replays up to where the live worker got; here no worker ran, so say it got
    to the end of every partition (the rebuild reads nothing else from the live tables)."""
    ends = await end_offsets(settings, source_topics(settings))
    conn = await asyncpg.connect(settings.database_for("projections"))
    try:
        await conn.executemany(
            'INSERT INTO projection_positions (topic, "partition", next_offset) VALUES ($1, $2, $3)'
            ' ON CONFLICT (topic, "partition") DO UPDATE SET next_offset = EXCLUDED.next_offset',
            [(t, p, o) for (t, p), o in ends.items()],
        )
    finally:
        await conn.close()


async def main_async(args) -> None:
    prefix = f"pbench{uuid.uuid4().hex[:6]}"
    settings = Settings().model_copy(update={"db_prefix": prefix, "topic_prefix": f"{prefix}."})
    await prepare_namespace(settings)
    try:
        t = time.perf_counter()
        messages = generate(args.events, seed=args.seed, duplicates=0.01)
        print(
            f"generated {len(messages):,} messages in {time.perf_counter() - t:.1f}s;"
            " publishing ...",
            flush=True,
        )
        await publish(settings, messages)
        del messages  # 100k live models would slow every garbage collection below
        gc.collect()
        gc.freeze()

        done, seconds = await naive(settings, args.naive_events)
        naive_rate = done / seconds
        print(
            f"naive projector (1 event = 1 transaction): {done:,} messages in"
            f" {seconds:.1f}s = {naive_rate:,.0f} events/s",
            flush=True,
        )

        await pretend_live_worker_reached_the_end(settings)
        report = await rebuild(settings, batch_size=args.batch)
        print(
            f"batched rebuild (all {len(report.models)} models, batches of {args.batch}):"
            f" {report.messages:,} messages in {report.seconds:.1f}s ="
            f" {report.rate:,.0f} events/s",
            flush=True,
        )
        print(f"rebuild / naive = {report.rate / naive_rate:.1f}x")
        for table, rows in report.rows.items():
            print(f"  {table}: {rows:,} rows")
    finally:
        await drop_namespace(settings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--naive-events", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
