"""The whole CPU cost of a step, from /proc: every process of the system under test (each
Procfile role, the PostgreSQL cluster, the Kafka JVM), each counted with all its descendants,
the load generator apart, and the machine's total beside them (whatever is left was someone
else's: on a shared box, other work).

A process tree's CPU is, over its live members, utime + stime + cutime + cstime (fields 14-17 of
/proc/<pid>/stat). cutime/cstime hold the CPU of children that the process has reaped, so a
PostgreSQL backend that starts and exits inside a step still counts: the postmaster reaps it and
its time moves into the postmaster's cutime. A backend alive at the start of a step and gone by
its end is counted by its live time at the start and its whole time, in the postmaster's cutime,
at the end, so the difference is exactly what it used in between.

Parsing and the arithmetic are pure functions over `Proc` records (tests/unit/test_bench_cost.py);
`scan` is the only part that reads /proc."""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
POSTGRES_NAMES = ("postgres", "postmaster")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    comm: str
    ticks: int  # utime + stime, its own (all threads)
    child_ticks: int  # cutime + cstime: children it has reaped (and theirs)
    cmdline: str = ""

    @property
    def total(self) -> int:
        return self.ticks + self.child_ticks


def parse_stat(text: str, cmdline: str = "") -> Proc:
    """One /proc/<pid>/stat line. The command name sits in parentheses and may itself contain
    spaces and parentheses, so the fields are split after its *last* ')'."""
    head, _, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    f = rest.split()
    # f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
    return Proc(
        pid=int(pid),
        ppid=int(f[1]),
        comm=comm,
        ticks=int(f[11]) + int(f[12]),
        child_ticks=int(f[13]) + int(f[14]),
        cmdline=cmdline,
    )


def scan(root: Path = Path("/proc")) -> dict[int, Proc]:
    """Every process visible now (a process that exits mid-scan is skipped)."""
    procs = {}
    for entry in os.scandir(root):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmd = (
                Path(entry.path, "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode("utf-8", "replace")
                .strip()
            )
            p = parse_stat(stat, cmd)
        except (OSError, ValueError, IndexError):
            continue
        procs[p.pid] = p
    return procs


def tree(procs: dict[int, Proc], root: int) -> set[int]:
    """root and all its live descendants."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    out, todo = set(), [root] if root in procs else []
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo += children.get(pid, [])
    return out


def tree_ticks(procs: dict[int, Proc], root: int) -> int | None:
    """CPU ticks of a whole process tree so far (None if the root is gone)."""
    if root not in procs:
        return None
    return sum(procs[p].total for p in tree(procs, root))


def postmasters(procs: dict[int, Proc]) -> list[int]:
    """PostgreSQL servers: postgres processes whose parent is not one (backends and
    background workers are the postmaster's children)."""
    return sorted(
        p.pid
        for p in procs.values()
        if p.comm in POSTGRES_NAMES
        and (p.ppid not in procs or procs[p.ppid].comm not in POSTGRES_NAMES)
    )


def kafka_brokers(procs: dict[int, Proc]) -> list[int]:
    return sorted(
        p.pid for p in procs.values() if p.comm == "java" and " kafka.Kafka " in f" {p.cmdline} "
    )


def backend_ticks(procs: dict[int, Proc], postmaster: int, db_prefix: str) -> int:
    """Live backends of databases named `<db_prefix>_*` (the title is `postgres: user db host
    state`): the bench's own share of a cluster that other work may share. Only backends alive
    at both ends of a step compare, so this is a lower bound; the cluster total is the figure."""
    if not db_prefix:
        return 0
    n = 0
    for pid in tree(procs, postmaster) - {postmaster}:
        words = procs[pid].cmdline.split()
        if len(words) >= 3 and words[0] == "postgres:" and words[2].startswith(f"{db_prefix}_"):
            n += procs[pid].ticks
    return n


def machine_busy_ticks(stat_text: str) -> int:
    """All CPUs' non-idle ticks from /proc/stat's first line (user nice system idle iowait irq
    softirq steal ...): everything but idle and iowait. guest time is already inside user."""
    f = [int(x) for x in stat_text.splitlines()[0].split()[1:]]
    return sum(f[:3]) + sum(f[5:8])


@dataclass
class Sample:
    at: float  # time.monotonic()
    components: dict[str, int]  # component -> ticks of its trees so far
    machine_ticks: int
    own_backend_ticks: int = 0
    pids: dict[str, list[int]] = field(default_factory=dict)


class Meter:
    """Samples the CPU of named process trees. `roles` gives the current role -> pid map (the
    system's processes); the PostgreSQL cluster and the Kafka broker are found by name."""

    def __init__(self, roles: Callable[[], dict[str, int]] = dict, db_prefix: str = ""):
        self.roles = roles
        self.db_prefix = db_prefix

    def sample(self) -> Sample:
        procs = scan()
        roots = {role: [pid] for role, pid in self.roles().items()}
        roots["postgresql"] = postmasters(procs)
        roots["kafka"] = kafka_brokers(procs)
        comps = {}
        for name, pids in roots.items():
            ticks = [t for t in (tree_ticks(procs, p) for p in pids) if t is not None]
            if ticks:
                comps[name] = sum(ticks)
        own = sum(backend_ticks(procs, p, self.db_prefix) for p in roots["postgresql"])
        return Sample(
            time.monotonic(), comps, machine_busy_ticks(Path("/proc/stat").read_text()), own, roots
        )


def breakdown(
    before: Sample,
    after: Sample,
    accepted: int,
    generator_cpu: float = 0.0,
    bench_cpu: float = 0.0,
    tick: int = TICK,
) -> dict:
    """CPU seconds per component between two samples, the system's total, ms per accepted gift,
    and the share of one core over the window. The generator's CPU (measured by the generator
    itself) and the bench process's own (polling, bookkeeping) are shown apart and not in the
    system's total; `other` is the rest of the machine's busy time."""
    window = max(after.at - before.at, 1e-9)
    comps = {
        name: (after.components[name] - before.components[name]) / tick
        for name in after.components
        if name in before.components
    }
    system = sum(comps.values())
    machine = (after.machine_ticks - before.machine_ticks) / tick
    per = (lambda s: s * 1000 / accepted) if accepted else (lambda s: None)
    return {
        "window_seconds": round(window, 3),
        "accepted": accepted,
        "system_cpu_seconds": round(system, 3),
        "system_cpu_ms_per_gift": per(system),
        "system_cores": round(system / window, 3),
        "components": {
            name: {"cpu_seconds": round(s, 3), "ms_per_gift": per(s), "share": round(s / window, 3)}
            for name, s in sorted(comps.items(), key=lambda kv: -kv[1])
        },
        "postgresql_bench_backends_seconds": round(
            (after.own_backend_ticks - before.own_backend_ticks) / tick, 3
        ),
        "generator": {
            "cpu_seconds": round(generator_cpu, 3),
            "ms_per_gift": per(generator_cpu),
            "share": round(generator_cpu / window, 3),
        },
        "bench_process_cpu_seconds": round(bench_cpu, 3),
        "machine_busy_seconds": round(machine, 3),
        "other_cpu_seconds": round(max(0.0, machine - system - generator_cpu - bench_cpu), 3),
    }


def short(cost: dict, top: int = 6) -> str:
    """One line for the console: the total per gift, then the biggest components."""
    if not cost.get("system_cpu_ms_per_gift"):
        return f"system {cost['system_cpu_seconds']:.2f} s CPU (no gift accepted)"
    parts = [
        f"{n} {c['ms_per_gift']:.2f}"
        for n, c in list(cost["components"].items())[:top]
        if c["ms_per_gift"] is not None
    ]
    gen = cost["generator"]
    return (
        f"CPU {cost['system_cpu_ms_per_gift']:.2f} ms/gift = {', '.join(parts)}"
        f" | generator {gen['ms_per_gift'] or 0:.2f} ms/gift ({gen['share']:.0%} of a core),"
        f" other work on the box {cost['other_cpu_seconds'] / cost['window_seconds']:.0%}"
    )
