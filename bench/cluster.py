"""`python -m bench --cluster [bench options]` (`make bench-cluster`): the same benchmark
against `make cluster`'s shape: three Kafka nodes (RF 3), two instances of every role, gifts
through HAProxy to two gifting-api instances, the standby. It starts that cluster fresh on a
cache dir and ports of its own (.cache/bench-cluster, base 26000, as scripts.chaos_cluster
lays them out), drives it with bench's steps via the balancer's front ports, reports the same
table (CPU per gift per role instance, HAProxy and every broker included) into
bench/results/cluster/ (so bench/results/latest.json stays the single-instance run's), and
stops it. Peers and the write-path-alone series are single-instance figures: not run here.
"""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench-cluster"
PORT_BASE = 26000
OUT = report.RESULTS / "cluster"


@dataclass
class Instance:
    pid: int


class ClusterUnderTest:
    """What bench's CPU meter reads of a system under test (`procs`: role -> pid), from the
    cluster supervisor's `started <role> (pid N)` lines, current at each sample."""

    def __init__(self, cluster, settings):
        self.cluster, self.settings = cluster, settings

    @property
    def procs(self) -> dict[str, Instance]:
        import re

        found = re.findall(r"started (\S+) \(pid (\d+)\)", self.cluster.tail(10**9))
        return {role: Instance(int(pid)) for role, pid in found}  # the last start wins


def bench_argv(argv: list[str], settings) -> list[str]:
    """bench's own options plus the balancer's front ports, no peers, no write-path series,
    results under OUT (each unless given)."""
    out = list(argv)
    if "--out" not in out:
        out += ["--out", str(OUT)]
    if "--peers" not in out:
        out += ["--peers", "none"]
    if "--no-write-path" not in out:
        out.append("--no-write-path")
    return (
        out
        + ["--gifting-url", settings.url_for("gifting")]
        + [
            "--recharge-url",
            settings.url_for("recharge"),
        ]
    )


def main(argv: list[str]) -> None:
    from infra import cluster as shape
    from scripts import chaos_cluster

    if os.environ.get(shape.MARKER) != "1":
        # As scripts.chaos_cluster: modules read their ports and cache dir when imported.
        ports, front = chaos_cluster.layout(PORT_BASE)
        env = {**os.environ, **chaos_cluster.layout_env(ports, front, CACHE)}
        env = shape.cluster_env(env, ports, CACHE)
        os.execve(sys.executable, [sys.executable, "-m", "bench", "--cluster", *argv], env)
    import asyncio

    from bench import __main__ as bench
    from eventkit.settings import Settings

    settings = Settings()
    cluster = chaos_cluster.Cluster(shape.cache())
    cluster.fresh()
    cluster.start()
    try:
        asyncio.run(chaos_cluster.wait_ready(cluster, settings, 300))
        print(f"cluster ready ({cluster.log}); benchmarking through HAProxy", flush=True)
        bench.SUT.append(ClusterUnderTest(cluster, settings))
        bench.main(bench_argv(argv, settings))
    finally:
        cluster.stop()
