"""The short fault-injection run of `make test` (the long one is `make chaos SEEDS=...`).

scripts.chaos runs the whole system under a seeded mixed load while it SIGKILLs and restarts
random components, then checks every acknowledged command against the ledgers and every
invariant with scripts.reconcile; it exits non-zero on any discrepancy. On the native path it
gets a Kafka broker and a PostgreSQL cluster of its own (own cache dir and ports, the jars
shared), so it can kill those too without disturbing this session's servers; with endpoints
from the environment or Testcontainers it kills only the services."""

import os
import shutil
import subprocess
import sys

import pytest

from infra.paths import CACHE, KAFKA_LIB, ROOT
from infra.system import free_port

SEEDS = "11,12"


@pytest.mark.timeout(1500)
def test_seeded_faults_lose_nothing_and_apply_nothing_twice(endpoints):
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    args = [
        sys.executable,
        "-m",
        "scripts.chaos",
        "--seeds",
        SEEDS,
        "--duration",
        "15",
        "--clients",
        "6",
    ]
    private = endpoints.how == "native"
    cache = CACHE / f"chaos-test-{os.getpid()}"
    if private:
        env.update(
            COINSTREAM_CACHE=str(cache),
            COINSTREAM_KAFKA_LIB=str(KAFKA_LIB),
            COINSTREAM_KAFKA_PORT=str(free_port()),
            COINSTREAM_KAFKA_CONTROLLER_PORT=str(free_port()),
            COINSTREAM_POSTGRES_PORT=str(free_port()),
        )
    else:
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=endpoints.kafka_bootstrap_servers,
            DATABASE_URL=endpoints.database_url,
        )
        args.append("--no-infra")
    try:
        run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1400)
    finally:
        if private:
            # forget: its cluster may live outside the cache dir (infra/postgres.py)
            subprocess.run(
                [sys.executable, "-m", "infra", "forget"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                timeout=120,
            )
            shutil.rmtree(cache, ignore_errors=True)
    print(run.stdout[-4000:], run.stderr[-4000:])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| 1")]
    assert len(rows) == len(SEEDS.split(",")), run.stdout
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] != "0", f"no command was acknowledged: {row}"
        assert cells[4] == "0", f"discrepancies: {row}"
