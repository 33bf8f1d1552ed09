"""The shape `make cluster` generates (infra/cluster.py, infra/kafka.py), without starting it."""

from pathlib import Path

from eventkit.settings import SERVICES
from infra import cluster, kafka
from infra.supervisor import read_procfile

ROOT = Path(__file__).resolve().parents[2]
PORTS = cluster.Ports()
PROCFILE = read_procfile(ROOT / "Procfile")


def listening_ports(count: int) -> list[int]:
    nodes = kafka.cluster_nodes(Path("/x"), PORTS.kafka)
    return [
        *(p for n in nodes for p in (n.port, n.controller_port, n.tls_port)),
        PORTS.postgres,
        PORTS.standby,
        *(cluster.instance_port(PORTS, s, i) for s in SERVICES for i in range(1, count + 1)),
        *(PORTS.metrics + i for i in range(1, count + 1)),
        *(
            int(port)
            for r in PROCFILE
            if r != cluster.WORKER_ROLE and not r.endswith("-api")
            for i in range(1, count + 1)
            for name, port in cluster.instance_env(r, i, PORTS).items()
            if name.endswith("_METRICS_PORT")
        ),
    ]


def test_each_relay_consumer_and_worker_instance_has_a_metrics_port_of_its_own():
    background = [r for r in PROCFILE if r != cluster.WORKER_ROLE and not r.endswith("-api")]
    for count in (2, 3):
        ports = [p for p in listening_ports(count) if p > PORTS.metrics + count]
        assert len(ports) >= len(background) * count


def test_every_role_runs_in_each_instance_and_every_listener_has_a_port_of_its_own():
    for count in (2, 3):
        roles = cluster.roles(PROCFILE, count, PORTS, "/usr/sbin/haproxy", Path("/c/haproxy.cfg"))
        assert set(roles) == {f"{r}.{i}" for r in PROCFILE for i in range(1, count + 1)} | {
            "haproxy"
        }
        ports = listening_ports(count)
        assert len(ports) == len(set(ports))
        # Not `make run`'s, the chaos run's, nor in the kernel's ephemeral range (where a port
        # may be the local end of an outgoing connection when an instance binds it).
        assert not set(ports) & {8001, 8002, 8003, 8004, 8005, 15432, 19092, 19093, 19094}
        assert not set(ports) & {25432, 29092, 29093, 29094}
        assert all(1024 < p < 32768 for p in ports)


def test_api_instances_get_their_port_and_the_read_api_reads_the_standby():
    roles = cluster.roles(PROCFILE, 2, PORTS, "haproxy", Path("h.cfg"))
    assert roles["gifting-api.2"] == (
        f"env GIFTING_PORT={cluster.instance_port(PORTS, 'gifting', 2)} python -m services.gifting api"
    )
    assert f"DATABASE_URL={cluster.standby_url(PORTS)}" in roles["projections-api.1"]
    assert f":{PORTS.standby}/" in cluster.standby_url(PORTS)
    assert f"PROJECTIONS_METRICS_PORT={PORTS.metrics + 2}" in roles["projections.2"]
    relay = roles["gifting-relay.1"]  # the shared settings, but a metrics port of its own
    assert relay.startswith("env GIFTING_RELAY_METRICS_PORT=") and relay.endswith(
        PROCFILE["gifting-relay"]
    )


def test_haproxy_fronts_each_api_on_its_port_and_checks_readyz():
    front = {s: 8001 + n for n, s in enumerate(SERVICES)}
    config = cluster.haproxy_config(list(SERVICES), 2, PORTS, front, "127.0.0.1")
    for service in SERVICES:
        assert f"frontend {service}\n    bind 127.0.0.1:{front[service]}\n" in config
        for i in (1, 2):
            port = cluster.instance_port(PORTS, service, i)
            assert f"server {service}-{i} 127.0.0.1:{port} check" in config
    assert config.count("option httpchk GET /readyz") == len(SERVICES)


def test_every_node_is_a_voter_and_topics_replicate_three_ways():
    nodes = kafka.cluster_nodes(Path("/x"), 27092)
    text = kafka.cluster_overrides(nodes[1], nodes)
    assert "node.id=2\n" in text
    assert "controller.quorum.voters=1@127.0.0.1:27093,2@127.0.0.1:27103,3@127.0.0.1:27113\n" in (
        text
    )
    for line in (
        "default.replication.factor=3",
        "offsets.topic.replication.factor=3",
        "min.insync.replicas=2",
        "transaction.state.log.min.isr=2",
        "unclean.leader.election.enable=false",
    ):
        assert f"\n{line}\n" in text


def test_the_cluster_environment_moves_cache_ports_and_replication():
    env = cluster.cluster_env({"PATH": "/bin"}, PORTS, Path("/c"))
    assert env["COINSTREAM_CACHE"] == "/c"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:27092,127.0.0.1:27102,127.0.0.1:27112"
    assert env["KAFKA_REPLICATION_FACTOR"] == "3"
    assert env["COINSTREAM_POSTGRES_PORT"] == str(PORTS.postgres)
    assert env[cluster.MARKER] == "1"
