"""The `eventsourcing` library (PyPI) with its PostgreSQL persistence, doing our workload: load
the fan's wallet aggregate and debit it, load the creator's aggregate and credit it, save both
atomically (the library's optimistic concurrency: a version conflict is retried). It is a
synchronous library, so its best rate comes from threads (psycopg releases the GIL on I/O);
we try several thread counts and keep the best."""

import random
import threading
import time
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from bench import cost


class Wallet(Aggregate):
    @staticmethod
    def create_id(owner: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"wallet/{owner}")

    def __init__(self, owner: str, balance: int):
        self.owner = owner
        self.balance = balance

    @event("Debited")
    def debit(self, coins: int) -> None:
        self.balance -= coins

    @event("Credited")
    def credit(self, coins: int) -> None:
        self.balance += coins


class Gifts(Application):
    pass


def _app(server_url: str, database: str, pool_size: int) -> Gifts:
    u = urlsplit(server_url)
    return Gifts(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": database,
            "POSTGRES_HOST": u.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(u.port or 5432),
            "POSTGRES_USER": u.username or "",
            "POSTGRES_PASSWORD": u.password or "",
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": "0",
        }
    )


def populate(
    server_url: str, database: str, fans: int, creators: int, tag: str
) -> tuple[list[UUID], list[UUID]]:
    app = _app(server_url, database, 2)
    fan_ids: list[UUID] = []
    creator_ids: list[UUID] = []
    batch = []
    for kind, n, balance, ids in (
        ("fan", fans, 10**9, fan_ids),
        ("creator", creators, 0, creator_ids),
    ):
        for i in range(n):
            w = Wallet(f"{kind}-{tag}-{i}", balance)
            ids.append(w.id)
            batch.append(w)
            if len(batch) >= 500:
                app.save(*batch)
                batch = []
    if batch:
        app.save(*batch)
    app.close()
    return fan_ids, creator_ids


def run(
    server_url: str,
    database: str,
    fan_ids: list[UUID],
    creator_ids: list[UUID],
    hot_share: float,
    threads: int,
    seconds: float,
) -> dict:
    app = _app(server_url, database, threads)
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    conflicts = [0]
    errors = [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine = fan_ids[seed::threads]  # fans are spread over threads, like distinct users
        while time.monotonic() < stop:
            fan_id = mine[rng.randrange(len(mine))]
            if hot_share and rng.random() < hot_share:
                creator_id = creator_ids[0]
            else:
                creator_id = creator_ids[rng.randrange(len(creator_ids))]
            started = time.monotonic()
            for _ in range(50):
                try:
                    fan: Wallet = app.repository.get(fan_id)
                    creator: Wallet = app.repository.get(creator_id)
                    fan.debit(1)
                    creator.credit(1)
                    app.save(fan, creator)
                    break
                except IntegrityError:
                    with lock:
                        conflicts[0] += 1
            else:
                with lock:
                    errors[0] += 1
                continue
            with lock:
                latencies.append(time.monotonic() - started)

    meter = cost.Meter()
    before, cpu0 = meter.sample(), time.process_time()
    began = time.monotonic()
    pool = [threading.Thread(target=worker, args=(s,)) for s in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - began
    app_cpu = time.process_time() - cpu0  # the library and its driver, in this process
    after = meter.sample()
    spent = cost.breakdown(before, after, len(latencies))
    app.close()
    latencies.sort()

    def pct(q):
        return (
            latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))] * 1000
            if latencies
            else None
        )

    return {
        "peer": "eventsourcing",
        "threads": threads,
        "hot_share": hot_share,
        "creators": len(creator_ids),
        "rate": len(latencies) / elapsed,
        "conflicts": conflicts[0],
        "errors": errors[0],
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "seconds": seconds,
        # Its system: the in-process application (library + psycopg) and the database.
        "system_cpu_ms_per_gift": (
            (spent["components"].get("postgresql", {}).get("cpu_seconds", 0) + app_cpu)
            * 1000
            / len(latencies)
            if latencies
            else None
        ),
        "app_cpu_ms_per_gift": app_cpu * 1000 / len(latencies) if latencies else None,
        "cost": spent,
    }


def best(
    server_url: str,
    database: str,
    fan_ids,
    creator_ids,
    hot_share: float,
    seconds: float,
    thread_counts=(4, 8),
) -> dict:
    runs = [
        run(server_url, database, fan_ids, creator_ids, hot_share, t, seconds)
        for t in thread_counts
    ]
    top = max(runs, key=lambda r: r["rate"])
    top["tried"] = [{"threads": r["threads"], "rate": r["rate"]} for r in runs]
    return top
