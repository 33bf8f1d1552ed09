"""The short cluster fault test of `make test` (the long one is `make chaos-cluster SEEDS=...`).

scripts.chaos_cluster starts `make cluster`'s shape fresh on a cache dir and ports of its own
(.cache/chaos-cluster-test, base 24000), drives a mixed load through HAProxy while it SIGKILLs
the leading broker, one instance of every role and HAProxy, and stops two brokers; then checks
the ledgers, reconcile, the topics (once per id, per-aggregate order), consumer lag, ISR and the
standby, and exits non-zero on any discrepancy. Heavy (three JVMs, 30 processes): one seed."""

import subprocess
import sys

import pytest

from infra.paths import CACHE, ROOT
from infra.proc import port_open

pytestmark = pytest.mark.e2e

BASE = 24000


@pytest.mark.timeout(900)
def test_one_seed_of_cluster_faults_loses_nothing_and_accepts_commands_without_quorum():
    taken = [p for p in (BASE + 92, BASE + 432, BASE + 433, BASE + 62) if port_open(p)]
    if taken:
        pytest.skip(f"the fault test's ports are in use ({taken}): another run?")
    args = [sys.executable, "-m", "scripts.chaos_cluster", "--seeds", "21", "--duration", "8"]
    args += ["--clients", "3", "--outage", "5", "--port-base", str(BASE)]
    args += ["--cache", str(CACHE / "chaos-cluster-test")]
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=850)
    out = "\n".join(line for line in run.stdout.splitlines() if not line.startswith("%"))
    print(out)
    assert run.returncode == 0, out[-4000:] + run.stderr[-3000:]
    row = next(line for line in out.splitlines() if line.startswith("| 21 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[-1] == "0"  # discrepancies
    assert int(cells[4]) > 0  # commands acknowledged while two brokers were down
