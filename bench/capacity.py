"""`python -m bench.capacity [results.json]`: the capacity model, from a bench run's measured
CPU per gift per component (bench/results/latest.json by default): how many cores of each
role, of Kafka brokers and of PostgreSQL 10k, 100k and 1M gifts/s need, and how many machines.

Assumptions (printed with the table):
- the cost of a gift is the bench step with the most accepted gifts/s (the spread load: gifts
  to many creators), less what each component burns idle (the run's `idle` sample, so the
  fixed polling cost is not multiplied by the rate); CPU scales linearly with the rate: the
  APIs, relays and consumers are stateless or partitioned, so instances add up;
- a role runs at UTILISATION of its cores at the design rate (headroom for bursts, failover of
  one instance of each role, GC and rebalances);
- Kafka's CPU is the bench's single broker times REPLICATION (each message written on RF
  brokers; replica fetches cost about what a produce does); brokers have BROKER_CORES cores and
  there are at least 3;
- PostgreSQL's CPU is the write side of every service (the bench measures them on one
  server); one primary has at most PRIMARY_CORES usable cores, and beyond that the write side
  is sharded on Citus by wallet owner (docs/scaling.md): shards of SHARD_CORES cores;
- the gifts' consumers need a partition per instance: partitions >= the largest instance
  count of a consumer role.
"""

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import report

RATES = (10_000, 100_000, 1_000_000)
UTILISATION = 0.6
REPLICATION = 3
BROKER_CORES = 16
PRIMARY_CORES = 64
SHARD_CORES = 32
ROLE_CORES = 1  # cores per instance of a role (one Python event loop)
NEGLIGIBLE_MS = 0.02  # roles a gift barely touches (recharge, the read API) are left out
SERVERS = ("postgresql", "kafka")


@dataclass(frozen=True)
class Cost:
    rate: float  # gifts/s of the step measured
    ms_per_gift: dict[str, float]  # component (role, postgresql, kafka) -> CPU ms per gift


def role_of(component: str) -> str:
    """A component's role: `gifting-api.2` (a cluster instance) counts as gifting-api."""
    return component.rsplit(".", 1)[0] if component.rsplit(".", 1)[-1].isdigit() else component


def marginal_cost(results: dict) -> Cost:
    """CPU ms per gift per role from the busiest spread step, less idle CPU over its window."""
    steps = results["ours"]["spread"]
    top = max(steps, key=lambda s: s["accepted_rate"])
    window = top["cost"]["window_seconds"]
    idle = results.get("idle", {})
    idle_cores = {
        name: c["cpu_seconds"] / idle["window_seconds"]
        for name, c in idle.get("components", {}).items()
    }
    accepted = top["cost"]["accepted"]
    ms: dict[str, float] = {}
    for name, c in top["cost"]["components"].items():
        busy = max(0.0, c["cpu_seconds"] - idle_cores.get(name, 0.0) * window)
        ms[role_of(name)] = ms.get(role_of(name), 0.0) + 1000 * busy / accepted
    return Cost(top["accepted_rate"], ms)


@dataclass(frozen=True)
class Need:
    rate: int
    roles: dict[str, tuple[float, int]]  # role -> (cores, instances)
    kafka_cores: float
    brokers: int
    postgres_cores: float
    shards: int  # 1: one primary suffices
    partitions: int


def need(cost: Cost, rate: int) -> Need:
    roles = {}
    for name, ms in sorted(cost.ms_per_gift.items()):
        if name in SERVERS or ms < NEGLIGIBLE_MS:
            continue
        cores = rate * ms / 1000 / UTILISATION
        roles[name] = (cores, max(2, math.ceil(cores / ROLE_CORES)))
    kafka = rate * cost.ms_per_gift.get("kafka", 0.0) / 1000 * REPLICATION / UTILISATION
    pg = rate * cost.ms_per_gift.get("postgresql", 0.0) / 1000 / UTILISATION
    shards = 1 if pg <= PRIMARY_CORES else math.ceil(pg / SHARD_CORES)
    consumers = [n for name, (_, n) in roles.items() if not name.endswith("-api")]
    return Need(
        rate,
        roles,
        kafka,
        max(3, math.ceil(kafka / BROKER_CORES)),
        pg,
        shards,
        max(consumers, default=1),
    )


def table(cost: Cost, needs: list[Need]) -> str:
    head = "| component (CPU ms/gift measured) | " + " | ".join(f"{n.rate:,}/s" for n in needs)
    rows = [head + " |", "|---" * (len(needs) + 1) + "|"]
    for name in needs[0].roles:
        cells = [f"{n.roles[name][0]:,.0f} cores ({n.roles[name][1]} inst.)" for n in needs]
        rows.append(f"| {name} ({cost.ms_per_gift[name]:.2f}) | " + " | ".join(cells) + " |")
    kafka_ms = cost.ms_per_gift.get("kafka", 0.0)
    rows.append(
        f"| Kafka brokers ({kafka_ms:.2f} x RF {REPLICATION}) | "
        + " | ".join(f"{n.kafka_cores:,.0f} cores = {n.brokers} x {BROKER_CORES}" for n in needs)
        + " |"
    )
    pg_ms = cost.ms_per_gift.get("postgresql", 0.0)
    rows.append(
        f"| PostgreSQL ({pg_ms:.2f}) | "
        + " | ".join(
            f"{n.postgres_cores:,.0f} cores, "
            + ("one primary" if n.shards == 1 else f"Citus: {n.shards} x {SHARD_CORES}")
            for n in needs
        )
        + " |"
    )
    rows.append(
        "| partitions per topic (>= instances of a consumer role) | "
        + " | ".join(str(n.partitions) for n in needs)
        + " |"
    )
    total = [sum(c for c, _ in n.roles.values()) + n.kafka_cores + n.postgres_cores for n in needs]
    rows.append("| **total cores** | " + " | ".join(f"**{t:,.0f}**" for t in total) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else report.RESULTS / "latest.json"
    results = json.loads(path.read_text())
    cost = marginal_cost(results)
    print(
        f"from {path} ({results.get('started', '?')}, {results.get('host_cpus', '?')} cores):"
        f" the busiest spread step, {cost.rate:,.0f} gifts/s, less idle CPU;"
        f" {sum(cost.ms_per_gift.values()):.2f} ms of CPU per gift in all"
    )
    print(
        f"assumed: {UTILISATION:.0%} utilisation at the design rate, Kafka CPU x RF"
        f" {REPLICATION}, {BROKER_CORES}-core brokers (at least 3), one PostgreSQL primary up"
        f" to {PRIMARY_CORES} cores then Citus shards of {SHARD_CORES}, {ROLE_CORES} cores per"
        " role instance (at least 2 instances)\n"
    )
    print(table(cost, [need(cost, r) for r in RATES]))


if __name__ == "__main__":
    main()
