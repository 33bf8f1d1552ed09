"""`make cluster` as a user starts it: `python -m infra.cluster run`, then Ctrl-C.

Three Kafka nodes, a PostgreSQL primary and standby, two instances of every role and HAProxy,
on a cache dir of its own (.cache/cluster-test) and front ports of its own, so neither `make
run` nor a running `make cluster` is touched. Heavy (three JVMs): one start per test run.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from eventkit.settings import SERVICES, Settings
from infra import cluster
from infra.proc import port_open
from schemas import topics
from tests.support.apps import auth, new_id

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "cluster-test"
FRONT = {service: 27060 + n for n, service in enumerate(SERVICES, start=1)}
READY_WITHIN = 150  # the goal is < 90 s from a fresh clone; this bounds a slow machine
PORTS = cluster.Ports()


def cluster_ports() -> list[int]:
    kafka = [PORTS.kafka + 10 * n + d for n in range(3) for d in range(3)]
    apis = [cluster.instance_port(PORTS, s, i) for s in SERVICES for i in (1, 2)]
    metrics = [PORTS.metrics + i for i in (1, 2)]
    return [*kafka, PORTS.postgres, PORTS.standby, *apis, *metrics, *FRONT.values()]


def processes_of(cache: Path) -> list[str]:
    """Every process started for this cluster: it carries the cache dir in its environment
    (COINSTREAM_CLUSTER_CACHE, inherited by every role, server and runuser'd postgres)."""
    mark = f"COINSTREAM_CLUSTER_CACHE={cache}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if mark in (proc / "environ").read_bytes().split(b"\0"):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name}: {cmd[:120]}")
        except OSError:
            continue
    return found


async def wait_for(fetch, done, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        try:
            got = await fetch()
            if done(got):
                return got
        except (httpx.HTTPError, OSError) as exc:
            got = exc
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: still {got!r} after {timeout}s")


async def readyz(http: httpx.AsyncClient, service: str) -> int:
    return (await http.get(f"http://127.0.0.1:{FRONT[service]}/readyz")).status_code


async def gift_through_the_balancer(settings: Settings) -> dict:
    fan, creator = new_id("fan"), new_id("creator")
    front = {s: f"http://127.0.0.1:{p}" for s, p in FRONT.items()}
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{front['recharge']}/v1/purchases",
            headers=auth(settings, fan),
            json={"bundle_id": "coins_3500", "channel": "web"},
        )
        assert r.status_code == 202, r.text

        async def wallet():
            r = await http.get(f"{front['gifting']}/v1/wallet", headers=auth(settings, fan))
            return r.json()

        await wait_for(wallet, lambda w: w.get("balance") == 3500, 30, "gifting wallet")
        r = await http.get(
            f"{front['gifting']}/v1/wallet", headers=auth(settings, creator, roles=["creator"])
        )
        assert r.status_code == 200, r.text
        catalog = f"{front['gifting']}/v1/gifts/catalog"
        shown = (await http.get(catalog, params={"country": "US"})).json()
        r = await http.post(
            f"{front['gifting']}/v1/gifts",
            headers=auth(settings, fan),
            json={
                "creator_id": creator,
                "context": {"kind": "live", "id": "stream-1"},
                "gift_code": "galaxy",
                "quantity": 3,
                "catalog_version": shown["version"],
            },
        )
        assert r.is_success, r.text

        async def projected():
            r = await http.get(f"{front['projections']}/v1/wallet", headers=auth(settings, fan))
            return r.json()

        # The read API's instances read the standby: the gift got there through Kafka, the
        # projections workers, the primary and streaming replication.
        # (the purchase and the gift travel different topics, so either may be projected first)
        def both(w: dict) -> bool:
            return (w.get("purchased"), w.get("gifted")) == (3500, 3000)

        return await wait_for(projected, both, 60, "read model")


async def standby_state(settings: Settings, fan_rows_of: str | None = None) -> tuple[bool, float]:
    from infra import postgres

    conn = await asyncpg.connect(cluster.standby_url(PORTS))
    try:
        return await conn.fetchval("SELECT pg_is_in_recovery()"), await conn.fetchval(
            postgres.REPLAY_LAG_SQL
        )
    finally:
        await conn.close()


async def topic_replicas(settings: Settings) -> set[int]:
    """How many replicas the partitions of every topic have (the contract's, the consumer
    offsets, faust's own): one set for them all."""
    from eventkit import kafka

    admin = kafka.admin(settings)
    await admin.start()
    try:
        names = await admin.list_topics()
        assert set(map(settings.topic, topics.ALL)) <= set(names)
        described = await admin.describe_topics(sorted(names))
        return {len(p["replicas"]) for t in described for p in t["partitions"]}
    finally:
        await admin.close()


def test_cluster_starts_serves_a_gift_through_the_balancer_and_stops_whole(tmp_path):
    taken = [p for p in cluster_ports() if port_open(p)]
    if taken:
        pytest.skip(f"the cluster's ports are in use ({taken[:5]}...): `make cluster` running?")
    env = {
        **os.environ,
        "COINSTREAM_CLUSTER_CACHE": str(CACHE),
        **{f"{s.upper()}_PORT": str(p) for s, p in FRONT.items()},
    }
    for name in (
        "COINSTREAM_CACHE",
        "KAFKA_BOOTSTRAP_SERVERS",
        "DATABASE_URL",
        "COINSTREAM_CLUSTER",
    ):
        env.pop(name, None)  # the session's own test infrastructure is not the cluster's
    log = tmp_path / "cluster.log"
    began = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.cluster", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        asyncio.run(_while_running(proc, log, began))
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        left = processes_of(CACHE)
        print(f"cluster stopped in {time.monotonic() - began:.1f}s since start, exit {code}")
    assert not left, f"left running after Ctrl-C: {left}"
    assert not [p for p in cluster_ports() if port_open(p)]
    assert code == 0, log.read_text()[-3000:]


async def _while_running(proc: subprocess.Popen, log: Path, began: float) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for service in FRONT:

            async def front(service: str = service) -> int:
                assert proc.poll() is None, log.read_text()[-3000:]
                return await readyz(http, service)

            await wait_for(front, lambda code: code == 200, READY_WITHIN, f"{service} /readyz")
    took = time.monotonic() - began
    print(f"\ncluster: every front port answered /readyz through HAProxy after {took:.1f}s")
    settings = Settings(
        secrets_dir=CACHE / "secrets",
        kafka_bootstrap_servers=cluster.kafka_bootstrap(PORTS),
        kafka_security_protocol="SASL_PLAINTEXT",
        topic_prefix="",
        db_prefix="coinstream",
    )
    assert await topic_replicas(settings) == {3}
    wallet = await gift_through_the_balancer(settings)
    assert (wallet["purchased"], wallet["gifted"], wallet["balance"]) == (3500, 3000, 500)
    in_recovery, lag = await standby_state(settings)
    print(f"cluster: the gift reached the standby's read model; replay lag {lag:.3f}s")
    assert in_recovery  # the read API answered from the standby, not the primary
