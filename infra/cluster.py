"""`make cluster` (`python -m infra.cluster [run|down]`): the whole system scaled out on this
machine, secured as `make run` is.

- three Apache Kafka KRaft nodes (broker + controller each, a three-voter quorum; topics with
  replication factor 3, min.insync.replicas 2, no unclean leader election: infra/kafka.py);
- PostgreSQL: the primary and a streaming standby (pg_basebackup -R, infra/postgres.py) that
  serves the read API (projections-api) and the analysts;
- COINSTREAM_INSTANCES (default 2) instances of every Procfile role, each API instance on a
  port of its own behind HAProxy (Debian's package; one front port per API, the port
  `make run` uses), health-checked on /readyz.

Its data live under .cache/cluster (COINSTREAM_CLUSTER_CACHE), so `make run`'s are untouched,
and its servers on ports of their own (PORTS below). Ctrl-C stops the roles (infra/supervisor)
and then the servers; `down` stops servers a killed run left behind.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "COINSTREAM_CLUSTER"  # set once the process runs with the cluster's environment
API_SUFFIX = "-api"
WORKER_ROLE = "projections"  # the projections worker (its metrics need a port per instance)


@dataclass(frozen=True)
class Ports:
    """Where the cluster's servers and instances listen; none is `make run`'s (19092-19094,
    15432, 8001-8005), the chaos run's (29092-29094, 25432) or the tests' (free ports, which
    the kernel takes from the ephemeral range, 32768 and up on Linux). All are below that range:
    a listening port in it may already be the local end of some outgoing connection."""

    kafka: int = 27092  # node n: 27092 + 10(n-1) client, +1 controller, +2 TLS
    postgres: int = 27432
    standby: int = 27433
    instances: int = 27000  # API k (SERVICES order), instance i: 27000 + 10k + i
    metrics: int = 27080  # projections worker instance i: 27080 + i; other roles from 27120

    @classmethod
    def from_env(cls) -> "Ports":
        env = os.environ.get
        return cls(
            kafka=int(env("COINSTREAM_CLUSTER_KAFKA_PORT", cls.kafka)),
            postgres=int(env("COINSTREAM_CLUSTER_POSTGRES_PORT", cls.postgres)),
            standby=int(env("COINSTREAM_CLUSTER_STANDBY_PORT", cls.standby)),
            instances=int(env("COINSTREAM_CLUSTER_INSTANCE_PORT", cls.instances)),
            metrics=int(env("COINSTREAM_CLUSTER_METRICS_PORT", cls.metrics)),
        )


def instances() -> int:
    count = int(os.environ.get("COINSTREAM_INSTANCES", "2"))
    if count < 1:
        sys.exit("COINSTREAM_INSTANCES must be at least 1")
    return count


def cache() -> Path:
    return Path(os.environ.get("COINSTREAM_CLUSTER_CACHE", ROOT / ".cache" / "cluster"))


def kafka_bootstrap(ports: Ports, nodes: int = 3) -> str:
    return ",".join(f"127.0.0.1:{ports.kafka + 10 * n}" for n in range(nodes))


def standby_url(ports: Ports) -> str:
    from eventkit.local import POSTGRES_PASSWORD, POSTGRES_USER

    return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{ports.standby}/postgres"


def cluster_env(base: dict[str, str], ports: Ports, cache_dir: Path) -> dict[str, str]:
    """The environment every process of the cluster reads (the launcher's own modules too:
    eventkit.local and infra.paths read their ports and cache dir when imported)."""
    return {
        **base,
        MARKER: "1",
        "COINSTREAM_CACHE": str(cache_dir),
        # The broker jars are the same Maven jars `make run` uses: shared, fetched once.
        "COINSTREAM_KAFKA_LIB": base.get(
            "COINSTREAM_KAFKA_LIB", str(ROOT / ".cache" / "kafka" / "lib")
        ),
        "COINSTREAM_KAFKA_PORT": str(ports.kafka),
        "COINSTREAM_KAFKA_CONTROLLER_PORT": str(ports.kafka + 1),
        "COINSTREAM_KAFKA_TLS_PORT": str(ports.kafka + 2),
        "COINSTREAM_POSTGRES_PORT": str(ports.postgres),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap(ports),
        "KAFKA_REPLICATION_FACTOR": "3",
        "DATABASE_URL": (f"postgresql://coinstream:coinstream@127.0.0.1:{ports.postgres}/postgres"),
    }


def api_service(role: str) -> str | None:
    return role.removesuffix(API_SUFFIX) if role.endswith(API_SUFFIX) else None


def instance_port(ports: Ports, service: str, instance: int) -> int:
    from eventkit.settings import SERVICES

    return ports.instances + 10 * SERVICES.index(service) + instance


def instance_env(role: str, instance: int, ports: Ports) -> dict[str, str]:
    """What one instance of a role changes in the shared environment: an API instance's own
    port (and the read API's database: the standby), a projections worker's metrics port."""
    service = api_service(role)
    if service is not None:
        env = {f"{service.upper()}_PORT": str(instance_port(ports, service, instance))}
        if service == "projections":
            env["DATABASE_URL"] = standby_url(ports)
        return env
    if role == WORKER_ROLE:
        return {"PROJECTIONS_METRICS_PORT": str(ports.metrics + instance)}
    own = role.replace("-", "_")
    if own in METERED:  # a relay, consumer or worker: two instances must not share /metrics
        port = ports.metrics + 40 + 10 * METERED.index(own) + instance
        return {f"{own.upper()}_METRICS_PORT": str(port)}
    return {}


def _metered() -> list[str]:
    from eventkit.settings import Settings

    fields = [f for f in Settings.model_fields if f.endswith("_metrics_port")]
    return sorted(
        f.removesuffix("_metrics_port") for f in fields if f != "projections_metrics_port"
    )


# The roles besides the APIs and the projections worker with a /metrics port of their own.
METERED = _metered()


def roles(
    procfile: dict[str, str], count: int, ports: Ports, haproxy: str, config: Path
) -> dict[str, str]:
    """The Procfile-like role list: `count` instances of every role (`<role>.<i>`, its own
    settings in front of its command through env(1)), and the load balancer."""
    out = {}
    for name, command in procfile.items():
        for i in range(1, count + 1):
            own = instance_env(name, i, ports)
            prefix = "env " + " ".join(f"{k}={v}" for k, v in own.items()) + " " if own else ""
            out[f"{name}.{i}"] = prefix + command
    out["haproxy"] = f"{haproxy} -db -f {config}"
    return out


# What the balancer asks of an instance: that its PostgreSQL answers (/readyz's body says so
# whatever its status). The APIs only write to PostgreSQL (the outboxes), so while Kafka has no
# quorum they still accept commands, which the relays publish once it is back; a /readyz 503
# that names only Kafka must not take every instance out of the balancer.
POSTGRES_OK = '"postgres":"ok"'


def haproxy_config(apis: list[str], count: int, ports: Ports, front: dict[str, int], host: str):
    """HAProxy's configuration: per API a frontend on `front[api]` and its instances."""
    sections = []
    for service in apis:
        servers = "\n".join(
            f"    server {service}-{i} 127.0.0.1:{instance_port(ports, service, i)} check"
            for i in range(1, count + 1)
        )
        sections.append(
            f"\nfrontend {service}\n    bind {host}:{front[service]}\n"
            f"    default_backend {service}\n"
            f"\nbackend {service}\n    balance roundrobin\n"
            "    option httpchk GET /readyz\n"
            f"    http-check expect string '{POSTGRES_OK}'\n"
            f"{servers}\n"
        )
    template = (Path(__file__).with_name("haproxy.cfg")).read_text()
    return template.format(sections="".join(sections))


def haproxy_binary() -> str:
    """Debian's haproxy, installed with apt-get when missing (as root), as PostgreSQL is."""
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("haproxy: installing Debian's haproxy package ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, env=env)
        return haproxy_binary()
    sys.exit("haproxy: not installed. Install it with\n  sudo apt-get install -y haproxy")


def readyz(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def announce_ready(fronts: dict[str, str], began: float, stopping: threading.Event) -> None:
    """Prints once every front port answers /readyz through the balancer, and how long the
    cluster took from the start of the command."""
    while not stopping.is_set():
        if all(readyz(url) for url in fronts.values()):
            took = time.monotonic() - began
            print(f"cluster: every front port answers /readyz after {took:.1f}s", flush=True)
            return
        stopping.wait(0.5)


def nodes():
    from infra import kafka

    return kafka.cluster_nodes(cache() / "kafka", Ports.from_env().kafka)


def stop_servers() -> None:
    from infra import kafka, postgres

    kafka.stop_nodes(nodes())
    postgres.stop_standby()
    postgres.stop()


def lag() -> str:
    """The standby's replay lag in seconds (postgres.REPLAY_LAG_SQL, asked on the standby)."""
    import asyncio

    import asyncpg

    from infra import postgres

    async def ask() -> float:
        conn = await asyncpg.connect(standby_url(Ports.from_env()))
        try:
            return await conn.fetchval(postgres.REPLAY_LAG_SQL)
        finally:
            await conn.close()

    return f"standby replay lag: {asyncio.run(ask()):.3f}s"


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def run() -> int:
    began = time.monotonic()
    import asyncio

    from eventkit.settings import SERVICES, Settings
    from infra import kafka, postgres
    from infra.__main__ import make_secrets, prepare
    from infra.proc import port_open
    from infra.supervisor import Supervisor, read_procfile

    ports, count = Ports.from_env(), instances()
    # Until the supervisor takes over the signals, SIGTERM stops the start-up as Ctrl-C does
    # (the servers already started are stopped below).
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings()
    apis = [s for s in SERVICES if f"{s}{API_SUFFIX}" in read_procfile(ROOT / "Procfile")]
    taken = [s for s in apis if port_open(settings.port_for(s), settings.reachable_host)]
    if taken:  # before anything starts: HAProxy could not bind them
        sys.exit(
            "cluster: the front ports of "
            + ", ".join(f"{s} ({settings.port_for(s)})" for s in taken)
            + " are taken (`make run`?): stop it, or set "
            + ", ".join(f"{s.upper()}_PORT" for s in taken)
        )
    try:
        make_secrets()
        postgres.start()
        postgres.start_standby(ports.standby)
        kafka.start_nodes(nodes())
        asyncio.run(prepare())  # migrations on the primary, topics (RF 3), users and ACLs
        procfile = read_procfile(ROOT / "Procfile")
        front = {s: settings.port_for(s) for s in apis}
        config = cache() / "haproxy.cfg"
        config.write_text(haproxy_config(apis, count, ports, front, settings.host))
        role_list = roles(procfile, count, ports, haproxy_binary(), config)
        (cache() / "Procfile").write_text("".join(f"{n}: {c}\n" for n, c in role_list.items()))
        for service in apis:
            backends = ", ".join(str(instance_port(ports, service, i)) for i in range(1, count + 1))
            print(f"{service:<12}{settings.url_for(service)} -> instances on {backends}")
        print(f"kafka       {settings.kafka_bootstrap_servers} (replication factor 3)")
        print(f"postgres    primary 127.0.0.1:{ports.postgres}, standby :{ports.standby}")
        print(f"roles       {len(role_list)} processes ({cache() / 'Procfile'})", flush=True)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        supervisor = Supervisor(role_list, ROOT, env)
        fronts = {s: settings.url_for(s) for s in apis}
        threading.Thread(
            target=announce_ready, args=(fronts, began, supervisor.stopping), daemon=True
        ).start()
        return supervisor.run()
    except KeyboardInterrupt:
        return 130
    finally:
        stop_servers()


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if os.environ.get(MARKER) != "1":
        # eventkit.local and infra.paths read their ports and cache dir when imported: start
        # again with the cluster's environment before importing them.
        env = cluster_env(dict(os.environ), Ports.from_env(), cache())
        os.execve(sys.executable, [sys.executable, "-m", "infra.cluster", *sys.argv[1:]], env)
    if command == "run":
        sys.exit(run())
    elif command == "down":
        stop_servers()
    elif command == "lag":
        print(lag())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
