"""CPU per event of the live projections worker, faust and Kafka fetches included:
`python -m bench.projector_cost [--rate 500 --duration 20 --worker-root DIR --profile FILE]`.

scripts.consumers_bench times our code alone over batches held in memory; in the full bench
the worker's process costs more per event than that (faust's stream machinery, aiokafka's
fetches, the commit timer, the lag monitor). This runs the real worker
(`python -m services.projections worker`, as its own process, in a namespace of its own) and
offers it a gift storm live: GiftSent v2 and the DiamondsCredited payout-consumer makes of them
(made beforehand in a second namespace by the real payout-consumer code), signed by their
owners, at `--rate` gifts/s, so the worker's batches are as big as that rate makes them. The
figure is the worker process tree's CPU (/proc ticks) from a caught-up start until every
measured event is projected, per event, and its PostgreSQL backends' beside it.
`--worker-root` runs the worker from another checkout (an A/B against an exported commit);
`--profile` records the measured window with py-spy (raw collapsed stacks).
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

from bench import cost
from eventkit.codec import encode
from eventkit.kafka import producer
from eventkit.settings import Settings
from eventkit.signing import owner_headers
from infra.namespace import drop_namespace, prepare_namespace
from schemas import topics
from scripts.consumers_bench import gift_storm, outbox_values, payout_run, publish, read_all

ROOT = Path(__file__).resolve().parent.parent
Message = tuple[str, bytes, bytes]  # contract topic, key, value


def _namespace(tag: str) -> Settings:
    prefix = f"{tag}{uuid.uuid4().hex[:6]}"
    return Settings().model_copy(update={"db_prefix": prefix, "topic_prefix": f"{prefix}."})


async def storm(args) -> list[list[Message]]:
    """Per gift: its GiftSent and the DiamondsCredited payout-consumer credits it with, in the
    order a live system emits them."""
    staging = _namespace("pcstage")
    await prepare_namespace(staging)
    try:
        count = int(args.rate * (args.warmup + args.duration))
        gifts = gift_storm(count, args.seed, args.fans, args.creators, args.hot_share)
        sent = [(e.aggregateid.encode(), encode(e)) for e in gifts]
        await publish(staging, topics.GIFTING_EVENTS, sent)
        await payout_run(staging, await read_all(staging, [topics.GIFTING_EVENTS]), 500)
        credits = await outbox_values(staging)
    finally:
        await drop_namespace(staging)
    assert len(credits) == len(sent), (len(credits), len(sent))
    return [
        [(topics.GIFTING_EVENTS, *g), (topics.PAYOUT_EVENTS, *c)]
        for g, c in zip(sent, credits, strict=True)
    ]


async def offer(settings: Settings, gifts: list[list[Message]], rate: float) -> None:
    """The gifts' messages at `rate` gifts/s, open loop in 10 ms ticks, signed as each
    topic's owner signs them."""
    out = producer(settings, "admin")
    await out.start()
    try:
        began, pending = time.monotonic(), list[asyncio.Future]()
        for i, messages in enumerate(gifts):
            due = began + i / rate
            if (wait := due - time.monotonic()) > 0.01:
                await asyncio.gather(*pending)
                pending = []
                await asyncio.sleep(wait)
            for topic, key, value in messages:
                headers = owner_headers(settings, topic, value, key)
                pending.append(
                    await out.send(settings.topic(topic), value, key=key, headers=headers)
                )
        await asyncio.gather(*pending)
    finally:
        await out.stop()


async def projected(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.database_for("projections"))
    try:
        return await conn.fetchval("SELECT count(*) FROM projected_events")
    finally:
        await conn.close()


async def caught_up(settings: Settings, events: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (done := await projected(settings)) < events:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker projected {done} of {events} events")
        await asyncio.sleep(0.05)


def _broker_ticks(procs: dict[int, cost.Proc]) -> int:
    """The local broker's (infra's, `python -m infra up`): shared with whatever else uses it."""
    config = str(ROOT / ".cache" / "kafka" / "server.properties")
    brokers = [p for p in cost.kafka_brokers(procs) if config in procs[p].cmdline]
    return sum(cost.tree_ticks(procs, p) or 0 for p in brokers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(settings: Settings, root: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DB_PREFIX": settings.db_prefix,
        "TOPIC_PREFIX": settings.topic_prefix,
        "PROJECTIONS_METRICS_PORT": str(_free_port()),
        "PYTHONPATH": str(root),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.projections", "worker"], cwd=root, env=env
    )


async def measure(args) -> None:
    gifts = await storm(args)
    settings = _namespace("pcost")
    await prepare_namespace(settings)
    worker = _worker(settings, Path(args.worker_root).resolve())
    try:
        warm = int(args.rate * args.warmup)
        await offer(settings, gifts[:warm], args.rate)
        await caught_up(settings, 2 * warm)
        procs = cost.scan()
        ticks0, kafka0 = cost.tree_ticks(procs, worker.pid), _broker_ticks(procs)
        db0 = sum(cost.backend_ticks(procs, p, settings.db_prefix) for p in cost.postmasters(procs))
        spy = (
            subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "-r",
                    "100",
                    "-f",
                    "raw",
                    "-o",
                    args.profile,
                ]
                + ["--pid", str(worker.pid), "--duration", str(int(args.duration) + 2)],
                stdout=subprocess.DEVNULL,
            )
            if args.profile
            else None
        )
        t0 = time.monotonic()
        await offer(settings, gifts[warm:], args.rate)
        await caught_up(settings, 2 * len(gifts))
        seconds = time.monotonic() - t0
        procs = cost.scan()
        ticks1, kafka1 = cost.tree_ticks(procs, worker.pid), _broker_ticks(procs)
        db1 = sum(cost.backend_ticks(procs, p, settings.db_prefix) for p in cost.postmasters(procs))
        if spy:
            spy.wait()
        assert ticks0 is not None and ticks1 is not None, "the worker died"
        events = 2 * (len(gifts) - warm)
        per = 1e6 / cost.TICK / events
        print(
            f"projections worker: {events:,} events at {args.rate:g} gifts/s in {seconds:.1f} s;"
            f" CPU per event: worker {(ticks1 - ticks0) * per:.0f} µs,"
            f" its PostgreSQL backends {(db1 - db0) * per:.0f} µs,"
            f" the Kafka broker (shared) {(kafka1 - kafka0) * per:.0f} µs"
            f" (root {args.worker_root})",
            flush=True,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        await drop_namespace(settings)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.projector_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=500, help="gifts offered per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--fans", type=int, default=500)
    parser.add_argument("--creators", type=int, default=2_000)
    parser.add_argument("--hot-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker-root", default=str(ROOT), help="checkout the worker runs from")
    parser.add_argument("--profile", help="py-spy raw stacks of the measured window to this file")
    asyncio.run(measure(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
