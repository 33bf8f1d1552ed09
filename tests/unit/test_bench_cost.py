"""The bench's whole-cost accounting (bench/cost.py): /proc/<pid>/stat parsing, process trees
with reaped children, and the per-gift breakdown, on hand-made records (no /proc needed)."""

import pytest

from bench import cost
from bench.cost import Proc, Sample


def stat_line(pid, comm, ppid, utime, stime, cutime=0, cstime=0):
    # Fields 3.. of /proc/<pid>/stat: state ppid pgrp session tty tpgid flags minflt cminflt
    # majflt cmajflt utime stime cutime cstime priority nice ...
    return (
        f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194304 10 0 0 0 "
        f"{utime} {stime} {cutime} {cstime} 20 0 1 0 100 1000 10"
    )


def test_parse_stat_reads_ppid_and_the_four_cpu_fields():
    p = cost.parse_stat(stat_line(2439, "postgres", 1, 7, 50, 734, 790))
    assert (p.pid, p.ppid, p.comm, p.ticks, p.child_ticks) == (2439, 1, "postgres", 57, 1524)
    assert p.total == 57 + 1524


def test_parse_stat_survives_a_command_name_with_spaces_and_parentheses():
    p = cost.parse_stat(stat_line(42, "we (ird) name", 7, 3, 4, 5, 6))
    assert (p.pid, p.comm, p.ppid, p.ticks, p.child_ticks) == (42, "we (ird) name", 7, 7, 11)


def test_parse_stat_of_this_process_matches_proc():
    import os
    from pathlib import Path

    p = cost.parse_stat(Path("/proc/self/stat").read_text())
    assert p.pid == os.getpid() and p.ppid == os.getppid()


def cluster(backends: dict[int, int], reaped: int = 0, own=(5, 5)) -> dict[int, Proc]:
    """A postmaster (pid 100) with live backends {pid: ticks}; `reaped` ticks of exited ones
    sit in its cutime/cstime. Plus a broker and an unrelated process."""
    procs = {100: Proc(100, 1, "postgres", sum(own), reaped, "/usr/lib/postgresql/15/bin/postgres")}
    for pid, ticks in backends.items():
        procs[pid] = Proc(
            pid,
            100,
            "postgres",
            ticks,
            0,
            f"postgres: coinstream bench1_gifting 127.0.0.1({pid}) idle",
        )
    procs[300] = Proc(300, 1, "java", 1000, 0, "java -Xmx768m -cp lib/* kafka.Kafka server.prop")
    procs[400] = Proc(400, 1, "python", 999, 0, "python -m something")
    return procs


def test_a_tree_counts_every_live_descendant_and_what_was_reaped():
    procs = cluster({101: 20, 102: 30})
    procs[103] = Proc(103, 101, "postgres", 4, 6)  # a grandchild, with reaped children of its own
    assert cost.tree(procs, 100) == {100, 101, 102, 103}
    assert cost.tree_ticks(procs, 100) == 10 + 20 + 30 + 10
    assert cost.tree_ticks(procs, 999) is None


def test_a_backend_that_comes_and_goes_within_the_window_is_counted_once():
    before = cluster({101: 20, 102: 30}, reaped=0)
    # During the window: 101 used 5 more and exited (reaped: its 25 move to the postmaster's
    # cutime); 104 started, used 40 and exited; 105 started and is still running (7); 102 +3.
    after = cluster({102: 33, 105: 7}, reaped=25 + 40)
    used = cost.tree_ticks(after, 100) - cost.tree_ticks(before, 100)
    assert used == 5 + 40 + 7 + 3


def test_postmasters_and_brokers_are_found_by_name():
    procs = cluster({101: 1})
    assert cost.postmasters(procs) == [100]
    assert cost.kafka_brokers(procs) == [300]


def test_backend_ticks_counts_only_the_bench_databases_backends():
    procs = cluster({101: 20})
    procs[102] = Proc(
        102, 100, "postgres", 50, 0, "postgres: coinstream t99_gifting 127.0.0.1(1) idle"
    )
    procs[103] = Proc(103, 100, "postgres", 70, 0, "postgres: walwriter")
    assert cost.backend_ticks(procs, 100, "bench1") == 20
    assert cost.backend_ticks(procs, 100, "") == 0


def test_machine_busy_ticks_leaves_out_idle_and_iowait():
    text = "cpu  41434 10 5956 41980 472 3 751 71 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    assert cost.machine_busy_ticks(text) == 41434 + 10 + 5956 + 3 + 751 + 71


def sample(at, comps, machine, own=0):
    return Sample(at=at, components=comps, machine_ticks=machine, own_backend_ticks=own)


def test_breakdown_sums_the_system_and_keeps_the_generator_and_the_rest_apart():
    before = sample(10.0, {"gifting-api": 100, "postgresql": 1000, "kafka": 50}, 5000)
    after = sample(
        12.0, {"gifting-api": 180, "postgresql": 1060, "kafka": 70, "projections": 5}, 5400
    )  # a role first seen late is skipped
    got = cost.breakdown(before, after, accepted=400, generator_cpu=0.2, bench_cpu=0.1, tick=100)
    assert got["window_seconds"] == 2.0
    assert got["system_cpu_seconds"] == pytest.approx(0.8 + 0.6 + 0.2)
    assert got["system_cpu_ms_per_gift"] == pytest.approx(1600 / 400)
    assert got["system_cores"] == pytest.approx(0.8)
    assert list(got["components"]) == ["gifting-api", "postgresql", "kafka"]  # biggest first
    assert got["components"]["gifting-api"] == {
        "cpu_seconds": 0.8,
        "ms_per_gift": 2.0,
        "share": 0.4,
    }
    assert got["generator"]["ms_per_gift"] == pytest.approx(0.5)
    # machine 4.0 s busy = system 1.6 + generator 0.2 + bench 0.1 + others 2.1
    assert got["other_cpu_seconds"] == pytest.approx(2.1)


def test_breakdown_of_a_step_that_accepted_nothing_has_no_per_gift_figure():
    got = cost.breakdown(
        sample(0, {"kafka": 1}, 0), sample(1, {"kafka": 3}, 10), accepted=0, tick=100
    )
    assert got["system_cpu_ms_per_gift"] is None and got["system_cpu_seconds"] == 0.02
    assert "no gift accepted" in cost.short(got)


def test_meter_samples_this_machine():
    # A live read of /proc: this test process as a "role", the system's figures non-negative.
    import os
    import time

    meter = cost.Meter(lambda: {"me": os.getpid()})
    a = meter.sample()
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    got = cost.breakdown(a, meter.sample(), accepted=10)
    assert got["components"]["me"]["cpu_seconds"] >= 0.03
    assert got["system_cpu_ms_per_gift"] > 0
