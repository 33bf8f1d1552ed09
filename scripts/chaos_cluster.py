"""The cluster fault test: `make cluster`'s shape (three Kafka nodes, two instances of every
role behind HAProxy, a PostgreSQL standby) under scripts.chaos's seeded mixed load from
at-least-once clients through the balancer, while it

1. SIGKILLs the broker leading the most partitions, and starts it again;
2. SIGKILLs one instance of every role (and HAProxy), in a seeded order; the cluster's
   supervisor starts each again, as it would in production;
3. stops two of the three brokers for a while: the APIs still accept commands into their
   outboxes, and nothing is published (no outbox row marked sent) until a quorum is back.

Then, once settled: every acknowledged command is in its ledger exactly once (scripts.chaos
verify, with scripts.reconcile: read models once, outboxes drained, ...), every event is on
its topic once per id, each aggregate's events on one partition in order, every consumer
group's lag 0, every partition's ISR 3 again, and the standby has replayed the primary's WAL.
Prints each fault's failover stall (the longest gap in acknowledgements after it) and the
seeds table.

    python -m scripts.chaos_cluster --seeds 1,2 [--duration 30] [--clients 6] [--outage 8]

The cluster is its own: a fresh cache dir (.cache/chaos-cluster) and ports from --port-base
(28000: Kafka 28092.., PostgreSQL 28432/28433, API instances 28001.., fronts 28061..), so
neither `make run` nor `make cluster` is touched. It is started once for all seeds.
"""

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit import kafka as clients
from eventkit.kafka import ADMIN, client_options
from eventkit.local import POSTGRES_PASSWORD, POSTGRES_USER
from eventkit.roles import AUDITOR
from eventkit.settings import SERVICES, Settings
from infra import cluster as shape
from infra import kafka, postgres
from infra.proc import pid_alive, port_open
from infra.supervisor import read_procfile
from schemas import topics
from scripts.chaos import Outcome, Target, load, verify

# eventkit.local, infra.paths and infra.kafka read their ports and cache dir when imported:
# main() starts this module again with the cluster's environment before any of it is used.

ROOT = Path(__file__).resolve().parent.parent
SETTLE_SECONDS = 240.0
STALL_WINDOW = 10.0  # a fault's stall is looked for this long after it (or until the next)


# --- pure decisions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One seed's faults: the leading broker's downtime, the role instances killed (in order)
    and the pauses between, the two brokers stopped together and for how long."""

    broker_down: float
    victims: list[str]
    gaps: list[float]
    outage_nodes: list[int]
    outage: float


def plan(rng: random.Random, roles: list[str], instances: int, outage: float) -> Plan:
    victims = [f"{role}.{rng.randint(1, instances)}" for role in roles] + ["haproxy"]
    rng.shuffle(victims)
    return Plan(
        broker_down=rng.uniform(2.0, 5.0),
        victims=victims,
        gaps=[rng.uniform(1.0, 2.5) for _ in victims],
        outage_nodes=sorted(rng.sample([1, 2, 3], 2)),
        outage=outage,
    )


def most_leading(described: list[dict]) -> int:
    """The broker id leading the most partitions (of every topic described)."""
    leaders = Counter(p["leader"] for t in described for p in t["partitions"] if p["leader"] >= 0)
    return leaders.most_common(1)[0][0]


def short_isr(described: list[dict], replicas: int = 3) -> list[str]:
    return [
        f"{t['topic']}[{p['partition']}] ISR {sorted(p['isr'])}"
        for t in described
        for p in t["partitions"]
        if len(p["isr"]) < replicas
    ]


@dataclass(frozen=True)
class Record:
    """What the topic check needs of one message: where it is and what its envelope says."""

    topic: str
    partition: int
    offset: int
    key: str
    event_id: str
    aggregate: str
    version: int


def topic_discrepancies(records: list[Record]) -> tuple[list[str], int]:
    """Per-aggregate order and placement, from the messages in offset order per partition:
    every key on one partition, and the first copy of each event id of an aggregate in
    non-decreasing aggregate version. Returns (discrepancies, copies): copies counts messages
    whose event id was already on the topic, which a relay killed between publishing and
    marking its batch sends again (at-least-once; the consumers dedupe by event id)."""
    found: list[str] = []
    partitions: dict[tuple[str, str], set[int]] = defaultdict(set)
    seen: set[tuple[str, str]] = set()
    last: dict[tuple[str, str], tuple[int, str]] = {}
    copies = 0
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        partitions[(r.topic, r.key)].add(r.partition)
        if (r.topic, r.event_id) in seen:
            copies += 1
            continue
        seen.add((r.topic, r.event_id))
        before = last.get((r.topic, r.aggregate))
        if before is not None and r.version < before[0]:
            found.append(
                f"{r.topic}[{r.partition}]@{r.offset}: {r.aggregate} v{r.version} ({r.event_id})"
                f" after v{before[0]} ({before[1]})"
            )
        last[(r.topic, r.aggregate)] = (r.version, r.event_id)
    found += [
        f"{topic}: key {key} on partitions {sorted(ps)}"
        for (topic, key), ps in partitions.items()
        if len(ps) > 1
    ]
    return found, copies


def lag_of(committed: dict[tuple[str, int], int], end: dict[tuple[str, int], int]) -> int:
    """Messages a group has not committed past, over the partitions it has committed on."""
    return sum(max(0, end.get(tp, 0) - offset) for tp, offset in committed.items())


def longest_gap(moments: list, since, until) -> float:
    """Seconds of the longest gap between moments (datetimes) in [since, until], its ends
    included: how long nothing happened."""
    inside = sorted(m for m in moments if since < m < until)
    edges = [since, *inside, until]
    return max((b - a).total_seconds() for a, b in zip(edges, edges[1:], strict=False))


@dataclass
class Fault:
    name: str
    at: float  # time.monotonic()
    until: float = 0.0  # the end of its window: the next fault, or STALL_WINDOW later
    stall: float = 0.0  # the longest wait for any acknowledgement to a client in the window
    retries: int = 0  # client retries (5xx, no answer) in the window
    # A broker fault: its window by the database's clock (from the fault until the brokers
    # are back), and the longest gap in publishing (outbox rows marked sent) in it.
    db_window: tuple | None = None
    publish_stall: float | None = None


@dataclass
class Result:
    outcome: Outcome
    outage_window: float = 0.0  # from two brokers gone until both are back (and 3 s)
    faults: list[Fault] = field(default_factory=list)
    outage: dict[str, int] = field(default_factory=dict)  # what happened while two were down
    copies: int = 0


# --- the cluster --------------------------------------------------------------------------


def layout(base: int) -> tuple[shape.Ports, dict[str, int]]:
    """The cluster's ports from one base (make cluster's layout, moved), and the fronts."""
    ports = shape.Ports(
        kafka=base + 92,
        postgres=base + 432,
        standby=base + 433,
        instances=base,
        metrics=base + 80,
    )
    return ports, {s: base + 61 + n for n, s in enumerate(SERVICES)}


def layout_env(ports: shape.Ports, front: dict[str, int], cache: Path) -> dict[str, str]:
    return {
        "COINSTREAM_CLUSTER_CACHE": str(cache),
        "COINSTREAM_CLUSTER_KAFKA_PORT": str(ports.kafka),
        "COINSTREAM_CLUSTER_POSTGRES_PORT": str(ports.postgres),
        "COINSTREAM_CLUSTER_STANDBY_PORT": str(ports.standby),
        "COINSTREAM_CLUSTER_INSTANCE_PORT": str(ports.instances),
        "COINSTREAM_CLUSTER_METRICS_PORT": str(ports.metrics),
        **{f"{s.upper()}_PORT": str(p) for s, p in front.items()},
    }


class Cluster:
    """`python -m infra.cluster run` as a child, its output in the cache dir; the pid of each
    role instance is read from the supervisor's `started <role> (pid N)` lines."""

    def __init__(self, cache: Path):
        self.cache, self.log = cache, cache / "cluster.log"
        self.ports = shape.Ports.from_env()
        self.nodes = shape.nodes()
        self.proc: subprocess.Popen | None = None
        self.mine: set[int] = set()  # brokers this process started again (it reaps them)
        self.reaping = threading.Event()

    def fresh(self) -> None:
        """Nothing of an earlier run: servers stopped, data deleted (a fresh clone's start)."""
        shape.stop_servers()
        postgres.forget()
        shutil.rmtree(postgres.standby_home(), ignore_errors=True)
        shutil.rmtree(self.cache, ignore_errors=True)
        self.cache.mkdir(parents=True)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.cluster", "run"],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        # A broker started again here is this process's child: once stopped (by a fault or
        # by the cluster's own shutdown, which waits for it to go) it must be reaped here.
        while not self.reaping.wait(0.2):
            for pid in list(self.mine):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        self.mine.discard(pid)
                except ChildProcessError:
                    self.mine.discard(pid)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C: roles, then servers
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                shape.stop_servers()
        self.reaping.set()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def pid(self, role: str) -> int:
        found = re.findall(rf"started {re.escape(role)} \(pid (\d+)\)", self.tail(10**9))
        if not found:
            raise RuntimeError(f"no pid for {role} in {self.log}")
        return int(found[-1])

    def kill(self, role: str) -> None:
        try:
            os.killpg(self.pid(role), signal.SIGKILL)
        except ProcessLookupError:
            pass

    def broker_pid(self, node_id: int) -> int | None:
        return pid_alive(self.nodes[node_id - 1].pid)

    def kill_broker(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        pid = self.broker_pid(node_id)
        if pid:
            os.kill(pid, sig)

    def wait_brokers_gone(self, node_ids: list[int], timeout: float = 30.0) -> None:
        """Until each is dead (gone or a zombie its parent has not reaped), SIGKILL after
        `timeout`; then its pid file goes, so start_nodes starts it again."""
        deadline = time.monotonic() + timeout
        for n in node_ids:
            node = self.nodes[n - 1]
            while (pid := self.broker_pid(n)) and not dead(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                time.sleep(0.1)
            while port_open(node.port):
                time.sleep(0.1)
            node.pid.unlink(missing_ok=True)

    def restart_brokers(self) -> None:
        """kafka.start_nodes: the stopped nodes start again on their data, and it waits until
        all three are registered."""
        for attempt in range(5):
            try:
                kafka.start_nodes(self.nodes)
                break
            except RuntimeError as exc:  # a quorum just back may time out the user check
                if attempt == 4:
                    raise
                print(f"kafka: {exc}; again in 2s", flush=True)
                time.sleep(2)
        for n in range(1, len(self.nodes) + 1):
            if pid := self.broker_pid(n):
                self.mine.add(pid)


def dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


class Balancer:
    """The load's Target (scripts.chaos): every API through HAProxy's front ports."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def url(self, service: str) -> str:
        return self.settings.url_for(service)


async def answers(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(f"{url}/readyz", timeout=3)).status_code == 200
    except httpx.HTTPError:
        return False


async def wait_ready(cluster: Cluster, settings, timeout: float) -> None:
    """Every front port and every API instance answers /readyz (both instances back)."""
    urls = [settings.url_for(s) for s in SERVICES]
    urls += [
        f"http://127.0.0.1:{shape.instance_port(cluster.ports, s, i)}"
        for s in SERVICES
        for i in range(1, shape.instances() + 1)
    ]
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            if cluster.proc is not None and cluster.proc.poll() is not None:
                raise RuntimeError(f"the cluster exited:\n{cluster.tail()}")
            if all(await asyncio.gather(*(answers(http, u) for u in urls))):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not every API answers /readyz after {timeout}s")
            await asyncio.sleep(0.5)


# --- Kafka and PostgreSQL facts -----------------------------------------------------------


async def describe(settings) -> list[dict]:
    admin = clients.admin(settings, request_timeout_ms=10000)
    await admin.start()
    try:
        return await admin.describe_topics(sorted(await admin.list_topics()))
    finally:
        await admin.close()


async def read_topics(settings) -> list[Record]:
    """Every message of the services' own topics, from the beginning to the current end."""
    names = [
        settings.topic(t) for t in topics.OWNER if topics.OWNER[t] in topics.SERVICE_PRINCIPALS
    ]
    consumer = AIOKafkaConsumer(**client_options(settings, ADMIN), enable_auto_commit=False)
    await consumer.start()
    out: list[Record] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(n, p)
            for n in names
            for p in sorted(consumer.partitions_for_topic(n) or ())
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                for m in batch:
                    try:
                        doc = orjson.loads(m.value)
                        out.append(
                            Record(
                                tp.topic,
                                tp.partition,
                                m.offset,
                                (m.key or b"").decode(),
                                str(doc["id"]),
                                str(doc["aggregateid"]),
                                int(doc["aggregateversion"]),
                            )
                        )
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        pass  # not an envelope: the consumers dead-letter it
        return out
    finally:
        await consumer.stop()


async def consumer_lag(settings) -> dict[str, int]:
    admin = clients.admin(settings, request_timeout_ms=10000)
    consumer = AIOKafkaConsumer(**client_options(settings, ADMIN), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lags = {}
        for group, *_ in await admin.list_consumer_groups():
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {(tp.topic, tp.partition): o.offset for tp, o in offsets.items()}
            end = await consumer.end_offsets(list(offsets)) if offsets else {}
            lags[group] = lag_of(committed, {(tp.topic, tp.partition): e for tp, e in end.items()})
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def standby_behind(primary: str, standby: str) -> int:
    """Bytes of the primary's WAL (as of now) the standby has not replayed yet."""
    p, s = await asyncpg.connect(primary), await asyncpg.connect(standby)
    try:
        lsn = await p.fetchval("SELECT pg_current_wal_lsn()")
        return int(await s.fetchval("SELECT pg_wal_lsn_diff($1, pg_last_wal_replay_lsn())", lsn))
    finally:
        await p.close()
        await s.close()


async def outbox_sent_between(settings, since, until) -> dict[str, tuple[int, int]]:
    """Per service: outbox rows written and rows marked sent (acknowledged by Kafka) in the
    window, by the database's clock."""
    out = {}
    for service in ("recharge", "gifting", "payout"):
        conn = await asyncpg.connect(settings.database_for(service, AUDITOR))
        try:
            out[service] = tuple(
                await conn.fetchrow(
                    "SELECT count(*) FILTER (WHERE created_at BETWEEN $1 AND $2),"
                    " count(*) FILTER (WHERE sent_at BETWEEN $1 AND $2) FROM outbox",
                    since,
                    until,
                )
            )
        finally:
            await conn.close()
    return out


async def sent_moments(settings: Settings, since, until) -> list:
    """When outbox rows of every service were marked sent in the window."""
    moments = []
    for service in ("recharge", "gifting", "payout"):
        conn = await asyncpg.connect(settings.database_for(service, AUDITOR))
        try:
            rows = await conn.fetch(
                "SELECT DISTINCT sent_at FROM outbox WHERE sent_at BETWEEN $1 AND $2", since, until
            )
            moments += [r["sent_at"] for r in rows]
        finally:
            await conn.close()
    return moments


async def db_now(settings):
    conn = await asyncpg.connect(settings.database_for("gifting", AUDITOR))
    try:
        return await conn.fetchval("SELECT clock_timestamp()")
    finally:
        await conn.close()


# --- one seed -----------------------------------------------------------------------------


async def inject(cluster: Cluster, settings, p: Plan, result: Result, done: asyncio.Event):
    outcome = result.outcome
    try:
        await asyncio.sleep(3)  # the load under way
        leader = most_leading(await describe(settings))
        fault, since = Fault(f"broker {leader} (leader)", time.monotonic()), await db_now(settings)
        result.faults.append(fault)
        cluster.kill_broker(leader)
        await asyncio.to_thread(cluster.wait_brokers_gone, [leader])
        await asyncio.sleep(p.broker_down)
        await asyncio.to_thread(cluster.restart_brokers)
        await asyncio.sleep(2)
        fault.db_window = (since, await db_now(settings))
        for victim, gap in zip(p.victims, p.gaps, strict=True):
            result.faults.append(Fault(victim, time.monotonic()))
            cluster.kill(victim)
            await asyncio.sleep(gap)
        await wait_ready(cluster, settings, 120)  # every instance back (the supervisor)
        await asyncio.sleep(2)
        names = " + ".join(map(str, p.outage_nodes))
        for n in p.outage_nodes:  # SIGTERM: a clean stop (SIGKILL if it hangs without quorum)
            cluster.kill_broker(n, signal.SIGTERM)
        await asyncio.to_thread(cluster.wait_brokers_gone, p.outage_nodes, 5.0)
        fault = Fault(f"brokers {names} down {p.outage:.0f}s", time.monotonic())
        fault_since = await db_now(settings)
        result.faults.append(fault)
        await asyncio.sleep(1)  # what Kafka acknowledged before they went is marked by now
        since, acked = await db_now(settings), outcome.acked
        await asyncio.sleep(p.outage)
        until = await db_now(settings)
        result.outage = {"acknowledged": outcome.acked - acked}
        for service, (written, sent) in (await outbox_sent_between(settings, since, until)).items():
            result.outage[f"{service} outbox rows"] = written
            result.outage[f"{service} marked sent"] = sent
        await asyncio.to_thread(cluster.restart_brokers)
        await asyncio.sleep(3)
        fault.db_window = (fault_since, await db_now(settings))
        result.outage_window = time.monotonic() - fault.at
    finally:
        done.set()


async def keep_loading(
    target: Target,
    rng: random.Random,
    outcome: Outcome,
    duration: float,
    clients: int,
    done: asyncio.Event,
) -> None:
    """scripts.chaos's load in rounds until the faults are over (and `duration` has passed)."""
    began = time.monotonic()
    while not done.is_set() or time.monotonic() - began < duration:
        await load(target, rng, outcome, 4.0, clients)


def costs(result: Result, end: float) -> None:
    """Each fault's stall (the longest wait for any acknowledgement from it until the next
    fault, at most STALL_WINDOW) and the retries clients made meanwhile."""
    outcome = result.outcome
    for fault, after in zip(result.faults, [*result.faults[1:], None], strict=True):
        fault.until = min(after.at if after else end, fault.at + STALL_WINDOW)
        if fault.name.startswith("brokers "):  # the outage's window is the outage itself
            fault.until = min(end, fault.at + result.outage_window)
        fault.stall = outcome.stall(fault.at, fault.until)
        fault.retries = sum(fault.at <= t < fault.until for t in outcome.retry_times)


async def publish_stalls(settings: Settings, result: Result) -> None:
    for fault in result.faults:
        if fault.db_window is not None:
            since, until = fault.db_window
            fault.publish_stall = longest_gap(
                await sent_moments(settings, since, until), *fault.db_window
            )


async def settle(settings, cluster: Cluster, result: Result, deadline: float) -> None:
    """The cluster-wide checks, each retried until it holds or the deadline passes."""
    found = result.outcome.discrepancies

    async def until(check, what: str):
        while True:
            got = await check()
            if not got or time.monotonic() > deadline:
                found.extend(f"{what}: {g}" for g in got)
                return
            await asyncio.sleep(1)

    async def isr():
        return short_isr(await describe(settings))

    async def lags():
        return [f"{g} behind by {n}" for g, n in (await consumer_lag(settings)).items() if n]

    primary = (
        f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{cluster.ports.postgres}"
        "/postgres"
    )

    async def standby():
        behind = await standby_behind(primary, shape.standby_url(cluster.ports))
        return [f"{behind} bytes of WAL not replayed"] if behind > 0 else []

    await until(isr, "ISR")
    await until(lags, "consumer lag")
    await until(standby, "standby")
    problems, result.copies = topic_discrepancies(await read_topics(settings))
    found.extend(problems)


async def run_seed(cluster: Cluster, settings, seed: int, args) -> Result:
    rng = random.Random(seed)
    outcome = Outcome(seed)
    result = Result(outcome)
    roles = list(read_procfile(ROOT / "Procfile"))
    p = plan(rng, roles, shape.instances(), args.outage)
    done = asyncio.Event()
    await asyncio.gather(
        keep_loading(Balancer(settings), rng, outcome, args.duration, args.clients, done),
        inject(cluster, settings, p, result, done),
    )
    costs(result, time.monotonic())
    await publish_stalls(settings, result)
    outcome.faults = [f.name for f in result.faults]
    await wait_ready(cluster, settings, 120)
    deadline = time.monotonic() + SETTLE_SECONDS
    await verify(settings, outcome, settle_seconds=SETTLE_SECONDS)
    await settle(settings, cluster, result, deadline)
    outage = result.outage
    if not outage.get("acknowledged"):
        outcome.discrepancies.append("no command acknowledged while two brokers were down")
    for key, n in outage.items():
        if key.endswith("marked sent") and n:
            outcome.discrepancies.append(f"{key}: {n} while two brokers were down")
    return result


def table(results: list[Result]) -> str:
    rows = [
        "| seed | faults | acknowledged | refused | acked in outage | re-sent copies"
        " | leader kill stall (clients / publishing) | worst role stall | discrepancies |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o = r.outcome
        leader = next(f for f in r.faults if "(leader)" in f.name)
        broker = f"{leader.stall:.1f}s / {leader.publish_stall or 0:.1f}s"
        roles = max((f.stall for f in r.faults if not f.name.startswith("broker")), default=0.0)
        rows.append(
            f"| {o.seed} | {len(r.faults)} | {o.acked} | {o.refused} |"
            f" {r.outage.get('acknowledged', 0)} | {r.copies} | {broker} | {roles:.1f}s |"
            f" {len(o.discrepancies)} |"
        )
    return "\n".join(rows)


def report(result: Result) -> None:
    o = result.outcome
    print(
        f"seed {o.seed}: {o.acked} acknowledged ("
        + ", ".join(f"{k} {len(v)}" for k, v in sorted(o.acknowledged.items()))
        + f"), {o.refused} refused, {len(o.discrepancies)} discrepancies",
        flush=True,
    )
    print("   fault                              client stall  retries  publish stall")
    for f in result.faults:
        published = "" if f.publish_stall is None else f"{f.publish_stall:11.1f}s"
        print(f"   {f.name:<34} {f.stall:11.1f}s  {f.retries:7d}  {published}")
    print("   outage: " + ", ".join(f"{k} {v}" for k, v in result.outage.items()))
    print("   refused: " + ", ".join(f"{k} x{n}" for k, n in o.refusals.most_common(6)))
    print(f"   re-sent copies on the topics: {result.copies}")
    for d in o.discrepancies[:30]:
        print(f"   - {d}")


async def main_async(args, cluster: Cluster) -> list[Result]:
    settings = Settings()
    await wait_ready(cluster, settings, 300)
    print(f"cluster ready ({cluster.log})", flush=True)
    results = []
    for seed in args.seeds:
        result = await run_seed(cluster, settings, seed, args)
        report(result)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--outage", type=float, default=8.0, help="seconds two brokers are down")
    parser.add_argument("--port-base", type=int, default=28000)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "chaos-cluster")
    args = parser.parse_args()
    if os.environ.get(shape.MARKER) != "1":
        # eventkit.local and infra.paths read their ports and cache dir when imported: start
        # again with the cluster's environment (as infra.cluster does) before importing them.
        ports, front = layout(args.port_base)
        cache = args.cache.resolve()
        env = {**os.environ, **layout_env(ports, front, cache)}
        # A short redelivery base for the sandbox's webhooks: a seed settles in seconds.
        env.setdefault("RECHARGE_SANDBOX_RETRY_SECONDS", "0.5")
        env = shape.cluster_env(env, ports, cache)
        os.execve(
            sys.executable, [sys.executable, "-m", "scripts.chaos_cluster", *sys.argv[1:]], env
        )
    cluster = Cluster(shape.cache())
    cluster.fresh()
    cluster.start()
    try:
        results = asyncio.run(main_async(args, cluster))
    finally:
        cluster.stop()
    print(table(results))
    raise SystemExit(1 if any(r.outcome.discrepancies for r in results) else 0)


if __name__ == "__main__":
    main()
