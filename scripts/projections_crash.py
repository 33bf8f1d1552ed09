"""Crash test of the projections worker: SIGKILL it at random points while a seeded stream of
generated events flows in, restart it, and check that every read model counts every event
exactly once (tests.support.synthetic.expected is the oracle). Prints one row per seed.

    python -m scripts.projections_crash --seeds 20 [--events 3000 --kills 3 --first-seed 1]

Each seed runs in a namespace of its own (databases + topics), dropped afterwards, so a
running `make run` is untouched. tests/integration/test_projections_crash.py runs a few seeds.
"""

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import asyncpg

from eventkit.settings import Settings
from infra.system import LOGS, ROOT, child_env, free_port
from services.projections import offsets
from services.projections.worker import source_topics
from tests.support.synthetic import (
    actual,
    differences,
    expected,
    generate,
    publish,
)


class WorkerProcess:
    """`python -m services.projections worker` as a child process of its own session."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics_port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"{self.settings.db_prefix}-projections.log", "ab")
        env = child_env(self.settings, PROJECTIONS_METRICS_PORT=str(self.metrics_port))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.projections", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)
        self.proc = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


async def wait_caught_up(settings: Settings, conn: asyncpg.Connection, timeout: float = 120):
    await offsets.wait_caught_up(settings, conn, source_topics(settings), timeout)


async def drop_faust_topics(settings: Settings) -> None:
    """faust's own topics are named after the app id (`<db prefix>-projections-v2-...`), which
    the namespace's topic prefix does not cover."""
    from eventkit.kafka import admin as kafka_admin

    admin = kafka_admin(settings)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{settings.db_prefix}-")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@dataclass
class Outcome:
    seed: int
    messages: int
    events: int
    kills: int
    lag_at_kills: list[int]
    seconds: float
    mismatches: list[str]


async def run_seed(
    settings: Settings,
    seed: int,
    events: int = 3000,
    kills: int = 3,
    worker: WorkerProcess | None = None,
) -> Outcome:
    """Publishes the stream in chunks while killing and restarting the worker `kills` times at
    random moments, each after it has visibly resumed work (so kills land mid-stream)."""
    started = time.monotonic()
    rng = random.Random(seed)
    messages = generate(events, seed)
    worker = worker or WorkerProcess(settings)
    conn = await asyncpg.connect(settings.database_for("projections"))
    lag_at_kills: list[int] = []
    try:
        worker.start()
        chunks = [messages[i : i + 200] for i in range(0, len(messages), 200)]

        async def produce():
            for chunk in chunks:
                await publish(settings, chunk)
                await asyncio.sleep(rng.uniform(0.0, 0.6))

        producing = asyncio.create_task(produce())
        for _ in range(kills):
            before = sum((await offsets.positions(conn)).values())
            deadline = time.monotonic() + 20
            while (
                sum((await offsets.positions(conn)).values()) == before
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            worker.kill()
            lag_at_kills.append(await offsets.behind(settings, conn, source_topics(settings)))
            await asyncio.sleep(rng.uniform(0.0, 1.0))
            worker.start()
        await producing
        await wait_caught_up(settings, conn)
        found = differences(expected(messages), await actual(conn))
    finally:
        await conn.close()
        worker.kill(signal.SIGTERM)
    unique = len({m.envelope.id for m in messages})
    return Outcome(
        seed, len(messages), unique, kills, lag_at_kills, time.monotonic() - started, found
    )


def row(o: Outcome) -> str:
    verdict = "exactly once" if not o.mismatches else f"{len(o.mismatches)} MISMATCHES"
    lags = ",".join(map(str, o.lag_at_kills))
    return (
        f"| {o.seed:>4} | {o.messages:>8} | {o.events:>6} | {o.kills:>5} | {lags:<22} |"
        f" {o.seconds:>6.1f} | {verdict} |"
    )


HEADER = (
    "| seed | messages | events | kills | unprojected at each kill | secs | result |\n"
    "|-----:|---------:|-------:|------:|:-------------------------|-----:|:-------|"
)


async def main_async(args) -> int:
    from infra.namespace import drop_namespace, prepare_namespace

    base = Settings()
    print(HEADER, flush=True)
    failed = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        prefix = f"crash{uuid.uuid4().hex[:6]}"
        settings = base.model_copy(update={"db_prefix": prefix, "topic_prefix": f"{prefix}."})
        await prepare_namespace(settings)
        try:
            outcome = await run_seed(settings, seed, args.events, args.kills)
        finally:
            await drop_namespace(settings)
            await drop_faust_topics(settings)
        print(row(outcome), flush=True)
        for m in outcome.mismatches[:5]:
            print(f"       {m}")
        failed += bool(outcome.mismatches)
    print(
        f"{args.seeds - failed}/{args.seeds} seeds: every read model counted every event"
        " exactly once"
    )
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=3)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
