"""The cluster fault test's pure decisions (scripts.chaos_cluster) and the balancer's check."""

import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from infra import cluster
from scripts.chaos import Outcome
from scripts.chaos_cluster import (
    Record,
    lag_of,
    layout,
    longest_gap,
    most_leading,
    plan,
    short_isr,
    topic_discrepancies,
)

ROLES = ["recharge-api", "gifting-api", "gifting-relay", "projections"]


def test_a_seed_plans_the_same_faults_and_kills_every_role_once():
    one, again = plan(random.Random(7), ROLES, 2, 8.0), plan(random.Random(7), ROLES, 2, 8.0)
    assert one == again
    assert sorted(v.rsplit(".", 1)[0] for v in one.victims) == sorted([*ROLES, "haproxy"])
    assert all(v == "haproxy" or v.rsplit(".", 1)[1] in ("1", "2") for v in one.victims)
    assert len(one.outage_nodes) == 2 and set(one.outage_nodes) <= {1, 2, 3}
    assert len(one.gaps) == len(one.victims)


def test_the_broker_leading_most_partitions_and_short_isrs():
    described = [
        {"topic": "a", "partitions": [{"partition": 0, "leader": 2, "isr": [1, 2, 3]}]},
        {
            "topic": "b",
            "partitions": [
                {"partition": 0, "leader": 2, "isr": [2, 3]},
                {"partition": 1, "leader": 1, "isr": [1, 2, 3]},
                {"partition": 2, "leader": -1, "isr": [3]},
            ],
        },
    ]
    assert most_leading(described) == 2
    assert short_isr(described) == ["b[0] ISR [2, 3]", "b[2] ISR [3]"]


def rec(partition, offset, event, version, aggregate="w1", topic="t") -> Record:
    return Record(topic, partition, offset, aggregate, event, aggregate, version)


def test_an_aggregate_out_of_order_or_split_over_partitions_is_a_discrepancy():
    in_order = [rec(0, 0, "e1", 1), rec(0, 1, "e2", 2), rec(0, 2, "e3", 2)]
    assert topic_discrepancies(in_order) == ([], 0)
    backwards = [rec(0, 0, "e1", 1), rec(0, 1, "e3", 3), rec(0, 2, "e2", 2)]
    found, _ = topic_discrepancies(backwards)
    assert len(found) == 1 and "w1 v2 (e2) after v3 (e3)" in found[0]
    split = [rec(0, 0, "e1", 1), rec(1, 0, "e2", 2)]
    assert topic_discrepancies(split)[0] == ["t: key w1 on partitions [0, 1]"]


def test_a_batch_sent_again_by_a_killed_relay_is_counted_not_out_of_order():
    # The relay published e1..e3, died before marking them, and its successor sent e2, e3
    # again after them: consumers skip the copies by event id, so order holds for them.
    resent = [rec(0, 0, "e1", 1), rec(0, 1, "e2", 2), rec(0, 2, "e3", 3)]
    resent += [rec(0, 3, "e2", 2), rec(0, 4, "e3", 3), rec(0, 5, "e4", 4)]
    assert topic_discrepancies(resent) == ([], 2)


def test_lag_counts_only_what_the_group_committed_on():
    committed = {("t", 0): 10, ("t", 1): 5}
    assert lag_of(committed, {("t", 0): 10, ("t", 1): 7, ("u", 0): 99}) == 2
    assert lag_of(committed, {("t", 0): 10, ("t", 1): 5}) == 0


def test_stalls_are_the_longest_gaps_window_ends_included():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [t0 + timedelta(seconds=s) for s in (1, 2, 9, 10)]
    assert longest_gap(moments, t0, t0 + timedelta(seconds=12)) == 7.0
    assert longest_gap([], t0, t0 + timedelta(seconds=3)) == 3.0
    outcome = Outcome(1)
    outcome.ack_times = [101.0, 101.5, 104.0]
    assert outcome.stall(100.0, 105.0) == 2.5


def test_its_ports_clash_with_no_other_cluster_and_stay_below_the_ephemeral_range():
    ports, front = layout(28000)
    mine = {ports.kafka + 10 * n + d for n in range(3) for d in range(3)}
    mine |= {ports.postgres, ports.standby, *front.values()}
    mine |= {cluster.instance_port(ports, s, i) for s in front for i in (1, 2, 3)}
    default = cluster.Ports()
    theirs = {default.kafka + 10 * n + d for n in range(3) for d in range(3)}
    theirs |= {default.postgres, default.standby, 29092, 29093, 25432, *range(8001, 8006)}
    assert not mine & theirs and max(mine) < 32768


def test_the_balancer_keeps_an_instance_whose_postgres_answers_while_kafka_is_down():
    """An API writes only to PostgreSQL (its outbox): while Kafka has no quorum its /readyz is
    503 naming Kafka, and it must still take commands. HAProxy checks the body for PostgreSQL's
    "ok", not the status (infra/cluster.py POSTGRES_OK)."""
    config = cluster.haproxy_config(["gifting"], 2, cluster.Ports(), {"gifting": 8002}, "127.0.0.1")
    assert "http-check expect status 200" not in config
    assert '    http-check expect string \'"postgres":"ok"\'\n' in config
    body = '{"status":"unavailable","checks":{"postgres":"ok","kafka":"down: ..."}}'
    assert cluster.POSTGRES_OK in body


def test_the_balancer_configuration_is_valid_haproxy(tmp_path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not shutil.which(haproxy):
        pytest.skip("haproxy not installed")
    path = tmp_path / "haproxy.cfg"
    path.write_text(
        cluster.haproxy_config(["gifting"], 2, cluster.Ports(), {"gifting": 8002}, "127.0.0.1")
    )
    run = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
