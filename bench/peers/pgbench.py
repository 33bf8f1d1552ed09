"""pgbench tpcb-like on a scratch database: the database server's own one-transaction-per-
operation ceiling here (5 statements per transaction, fsync as configured)."""

import os
import re
import resource
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from bench import cost

CANDIDATES = ("/usr/lib/postgresql/15/bin/pgbench", "pgbench")


def binary() -> str:
    for c in CANDIDATES:
        if Path(c).exists() or shutil.which(c):
            return c
    raise FileNotFoundError("pgbench not found (Debian: postgresql-15 / postgresql-contrib)")


def _conn_args(server_url: str, database: str) -> tuple[list[str], dict[str, str]]:
    u = urlsplit(server_url)
    env = {**os.environ, "PGPASSWORD": u.password or ""}
    return [
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
        database,
    ], env


def init(server_url: str, database: str, scale: int = 8) -> None:
    args, env = _conn_args(server_url, database)
    subprocess.run(
        [binary(), "-i", "-q", "-s", str(scale), *args], env=env, check=True, capture_output=True
    )


def _required(pattern: str, report: str) -> str:
    """The first group of a line pgbench always prints; a report without it is no result."""
    if (found := re.search(pattern, report)) is None:
        raise RuntimeError(f"pgbench printed no {pattern!r}: {report[-500:]}")
    return found.group(1)


def run(server_url: str, database: str, clients: int, seconds: int) -> dict:
    args, env = _conn_args(server_url, database)
    meter, kids = cost.Meter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    before = meter.sample()
    done = subprocess.run(
        [binary(), "-b", "tpcb-like", "-c", str(clients), "-j", "2", "-T", str(seconds), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    after, kids_after = meter.sample(), resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (kids_after.ru_utime + kids_after.ru_stime) - (kids.ru_utime + kids.ru_stime)
    txs = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    spent = cost.breakdown(before, after, int(txs.group(1)) if txs else 0, client)
    tps = float(_required(r"tps = ([\d.]+) \(without initial", done.stdout))
    avg = float(_required(r"latency average = ([\d.]+) ms", done.stdout))
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    return {
        "peer": "pgbench",
        "workload": f"tpcb-like, {clients} clients",
        "clients": clients,
        "rate": tps,
        "latency_avg_ms": avg,
        "errors": int(failed.group(1)) if failed else 0,
        "seconds": seconds,
        # The database is this peer's whole system; pgbench, its client, is shown apart.
        "system_cpu_ms_per_gift": spent["components"].get("postgresql", {}).get("ms_per_gift"),
        "client_cpu_ms_per_gift": spent["generator"]["ms_per_gift"],
        "cost": spent,
    }
