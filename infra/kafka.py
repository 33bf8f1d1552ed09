"""Apache Kafka broker, single KRaft node (broker + controller) on 127.0.0.1; `make cluster`
starts three such nodes as one cluster (start_nodes below, a three-voter quorum).

Jars come from Maven Central (infra/kafka/pom.xml) into .cache/kafka/lib and are reused when
present; storage is formatted once, so topics and offsets survive a stop/start.

Secured (infra/kafka/server.properties): SCRAM-SHA-512 on the client listener and on a TLS
listener (COINSTREAM_KAFKA_TLS_PORT), the standard authorizer with `admin` as the only super
user. The admin credential is written into the storage when it is formatted; the other users
and the ACLs are provisioned by infra/kafka_access.py once the broker answers.
"""

import asyncio
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from eventkit import kafka as clients
from eventkit.secrets import secret
from eventkit.settings import Settings
from infra import kafka_access
from infra.owner import mark, port_taken
from infra.paths import CACHE, KAFKA_BOOTSTRAP, KAFKA_CONTROLLER_PORT, KAFKA_LIB, KAFKA_PORT
from infra.proc import log_tail, pid_alive, port_open, stop_pid

HERE = Path(__file__).resolve().parent / "kafka"
HOME = CACHE / "kafka"
LIB = KAFKA_LIB
DATA = HOME / "data"
CONFIG = HOME / "server.properties"
LOG = HOME / "kafka.log"
PID = HOME / "kafka.pid"
HEAP = os.environ.get("COINSTREAM_KAFKA_HEAP", "-Xmx768m")
# The SASL_SSL listener, for clients on other machines (KAFKA_SECURITY_PROTOCOL=SASL_SSL,
# KAFKA_SSL_CAFILE=<secrets_dir>/kafka_ca.pem); its certificate names TLS_HOST.
TLS_PORT = int(os.environ.get("COINSTREAM_KAFKA_TLS_PORT", str(KAFKA_PORT + 2)))
TLS_HOST = kafka_access.TLS_HOST
# Written beside the formatted storage: which admin password it was formatted with.
SECURED = DATA / "coinstream-secured"


def fetch_jars() -> None:
    """Resolve the broker classpath with Maven once; a marker records which pom it came from."""
    marker = LIB / ".pom"
    pom = (HERE / "pom.xml").read_text()
    if marker.exists() and marker.read_text() == pom:
        return
    if shutil.which("mvn") is None:
        sys.exit("Kafka jars are missing and `mvn` is not installed: apt-get install -y maven")
    shutil.rmtree(LIB, ignore_errors=True)
    LIB.mkdir(parents=True)
    print(f"kafka: fetching broker jars from Maven Central into {LIB} ...", flush=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "--no-transfer-progress",
            "-f",
            str(HERE / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={LIB}",
        ],
        check=True,
    )
    marker.write_text(pom)


def _admin_password() -> str:
    return secret(Settings(), f"{clients.ADMIN}_kafka_password")


def _inline(pem: Path) -> str:
    """A PEM file as one properties value (Java's Properties reads `\\n` as a newline)."""
    return pem.read_text().strip().replace("\n", "\\n")


def render_config(
    settings: Settings,
    *,
    port: int = KAFKA_PORT,
    controller_port: int = KAFKA_CONTROLLER_PORT,
    tls_port: int = TLS_PORT,
    bind: str = "127.0.0.1",
    tls_bind: str = TLS_HOST,
    advertised: str = "127.0.0.1",
    tls_advertised: str = TLS_HOST,
    data: Path = DATA,
) -> str:
    """server.properties for a broker secured with `settings`' generated admin password and
    TLS certificate (the native broker, and the test fixture's container)."""
    from infra import secrets

    secrets.kafka(settings)
    tls = settings.secrets_dir
    return (
        (HERE / "server.properties")
        .read_text()
        .format(
            port=port,
            controller_port=controller_port,
            tls_port=tls_port,
            bind=bind,
            tls_bind=tls_bind,
            advertised=advertised,
            tls_advertised=tls_advertised,
            tls_certificate_chain=_inline(tls / kafka_access.BROKER_CERT),
            tls_key=_inline(tls / kafka_access.BROKER_KEY),
            admin_password=secret(settings, f"{clients.ADMIN}_kafka_password"),
            data=data,
        )
    )


def _write_config() -> None:
    CONFIG.touch(mode=0o600)  # it holds the admin password and the TLS key
    CONFIG.chmod(0o600)
    CONFIG.write_text(render_config(Settings()))


def _local(bootstrap: str = KAFKA_BOOTSTRAP) -> Settings:
    """Settings reaching this broker's client listener as configured (whatever the process's
    own KAFKA_* settings say)."""
    return Settings(kafka_bootstrap_servers=bootstrap, kafka_security_protocol="SASL_PLAINTEXT")


def _fingerprint(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _java(main: str, *args: str, home: Path = HOME, heap: str = HEAP) -> list[str]:
    return [
        "java",
        heap,
        "-cp",
        f"{LIB}/*",
        f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={home}",
        main,
        *args,
    ]


def _new_cluster_id() -> str:
    cluster_id = "-"
    while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: "-x" would parse as a flag
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


def _formatted(data: Path, password: str) -> bool:
    """Whether `data` holds storage formatted with this admin password."""
    secured = data / SECURED.name
    return (data / "meta.properties").exists() and (
        secured.exists() and secured.read_text().strip() == _fingerprint(password)
    )


def _format(config: Path, data: Path, cluster_id: str, password: str, home: Path = HOME) -> None:
    subprocess.run(
        _java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
            "--ignore-formatted",
            "--add-scram",
            f"{clients.MECHANISM}=[name={clients.ADMIN},password={password}]",
            home=home,
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (data / SECURED.name).write_text(_fingerprint(password) + "\n")


def _format_storage() -> None:
    password = _admin_password()
    if (DATA / "meta.properties").exists():
        if _formatted(DATA, password):
            return
        # Formatted before the broker was secured, or with another admin password: its
        # metadata holds no (or the wrong) admin credential, so the broker could not even
        # authenticate to itself. It is a development cache: start it afresh.
        print(
            f"kafka: {DATA} was formatted without the current admin credential "
            "(before SASL, or with an older admin_kafka_password); re-formatting it: "
            "its topics and offsets are dropped",
            flush=True,
        )
        shutil.rmtree(DATA)
    _format(CONFIG, DATA, _new_cluster_id(), password)


def start(wait_seconds: float = 120) -> None:
    if pid_alive(PID):
        wait_ready(wait_seconds)
        return
    if port_open(KAFKA_PORT):
        sys.exit(
            port_taken(
                "kafka",
                KAFKA_PORT,
                "COINSTREAM_KAFKA_PORT and "
                "COINSTREAM_KAFKA_CONTROLLER_PORT (or KAFKA_BOOTSTRAP_SERVERS to use "
                "a running broker)",
            )
        )
    HOME.mkdir(parents=True, exist_ok=True)
    mark(HOME)
    fetch_jars()
    _write_config()
    _format_storage()
    with open(LOG, "ab") as log:
        proc = subprocess.Popen(
            _java("kafka.Kafka", str(CONFIG)),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    PID.write_text(str(proc.pid))
    wait_ready(wait_seconds)
    kafka_access.ensure_users(_local())
    print(f"kafka: ready on {KAFKA_BOOTSTRAP} (log {LOG})", flush=True)


def wait_ready(
    wait_seconds: float = 120,
    bootstrap: str = KAFKA_BOOTSTRAP,
    watch: list[tuple[Path, Path]] | None = None,
    brokers: int = 1,
) -> None:
    """An open port is not enough: retry an admin call (describe the cluster) until it answers
    with `brokers` brokers registered. `watch`: the (pid file, log) of each broker started
    here, whose exit ends the wait (default: the one-node broker's, on its own address)."""
    import logging

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "not yet" is expected here
    if watch is None:
        watch = [(PID, LOG)] if bootstrap == KAFKA_BOOTSTRAP else []
    deadline = time.monotonic() + wait_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        for pid_file, log in watch:
            if pid_file.exists() and not pid_alive(pid_file):
                sys.exit(f"kafka: broker exited during start-up; log tail:\n{log_tail(log)}")
        try:
            found = asyncio.run(_broker_count(_local(bootstrap)))
            if found >= brokers:
                return
            last = RuntimeError(f"{found} of {brokers} brokers registered")
            time.sleep(0.5)
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
            time.sleep(1)
    sys.exit(
        f"kafka: no answer from {bootstrap} after {wait_seconds}s ({last!r});\n{log_tail(LOG)}"
    )


async def _broker_count(settings: Settings) -> int:
    admin = clients.admin(settings, request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_topics()
        return len((await admin.describe_cluster())["brokers"])
    finally:
        await admin.close()


def stop() -> None:
    pid = pid_alive(PID)
    if pid:
        stop_pid(pid)
        print("kafka: stopped", flush=True)
    # Another session may have started a broker while this one was stopping: keep its pid.
    if not pid_alive(PID):
        PID.unlink(missing_ok=True)


def status() -> str:
    pid = pid_alive(PID)
    where = f"{KAFKA_BOOTSTRAP} (SASL), TLS {TLS_HOST}:{TLS_PORT}"
    return f"kafka: running (pid {pid}) on {where}" if pid else "kafka: stopped"


def crash() -> None:
    """SIGKILL the broker (fault injection); `start()` brings it back on the same data."""
    pid = pid_alive(PID)
    if pid:
        os.kill(pid, 9)
        while pid_alive(PID) or port_open(KAFKA_PORT):
            time.sleep(0.05)


# --- Several nodes as one cluster (`make cluster`, infra/cluster.py) -------------------------
# Each node is broker and controller, with the one-node template's listeners and security
# (the controller listener authenticated with PLAIN, brokers with SCRAM as `admin`), its own
# ports, log dir and node id; the controllers form one static quorum.


@dataclass(frozen=True)
class Node:
    node_id: int
    port: int  # CLIENT: clients and the other brokers (SASL_PLAINTEXT, SCRAM)
    controller_port: int
    tls_port: int
    home: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid(self) -> Path:
        return self.home / "kafka.pid"


def cluster_nodes(home: Path, first_port: int, count: int = 3) -> list[Node]:
    """`count` nodes under `home`, node n on ports first_port + 10(n-1) (client), +1
    (controller), +2 (TLS)."""
    return [
        Node(n, p, p + 1, p + 2, home / f"node{n}")
        for n, p in ((n, first_port + 10 * (n - 1)) for n in range(1, count + 1))
    ]


def bootstrap_of(nodes: list[Node]) -> str:
    return ",".join(node.address for node in nodes)


def cluster_overrides(node: Node, nodes: list[Node]) -> str:
    """What a node of a cluster changes in the one-node template: its id, the quorum and the
    replication of the internal topics and of every topic created without its own factor.
    java.util.Properties keeps the last value of a repeated key, so these lines win."""
    replicas = min(3, len(nodes))
    isr = max(1, replicas - 1)
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    return (
        "\n# --- a node of a cluster (infra/kafka.py cluster_overrides) ---\n"
        f"node.id={node.node_id}\n"
        f"controller.quorum.voters={voters}\n"
        f"offsets.topic.replication.factor={replicas}\n"
        f"transaction.state.log.replication.factor={replicas}\n"
        f"transaction.state.log.min.isr={isr}\n"
        f"share.coordinator.state.topic.replication.factor={replicas}\n"
        f"share.coordinator.state.topic.min.isr={isr}\n"
        f"default.replication.factor={replicas}\n"
        f"min.insync.replicas={isr}\n"
        # An out-of-sync replica never becomes leader: acknowledged writes are never lost.
        "unclean.leader.election.enable=false\n"
        # A dead broker keeps its partitions' leadership until the controller fences it, and
        # nothing is published to them meanwhile: fence after 5 s of silence (default 9 s,
        # heartbeats every 2 s) so a leader's death stalls publishing well under 15 s. A live
        # broker fenced by a long pause only moves its leaders; nothing acknowledged is lost.
        "broker.heartbeat.interval.ms=1000\n"
        "broker.session.timeout.ms=5000\n"
    )


def render_node_config(settings: Settings, node: Node, nodes: list[Node]) -> str:
    return render_config(
        settings,
        port=node.port,
        controller_port=node.controller_port,
        tls_port=node.tls_port,
        data=node.data,
    ) + cluster_overrides(node, nodes)


def start_nodes(nodes: list[Node], wait_seconds: float = 180, heap: str = "-Xmx512m") -> None:
    """Starts the nodes that are not running (all formatted with one cluster id and the admin
    credential, once), then waits until every broker is registered and the users exist."""
    settings = Settings()
    password = _admin_password()
    home = nodes[0].home.parent
    home.mkdir(parents=True, exist_ok=True)
    mark(home)
    fetch_jars()
    for node in nodes:
        if not pid_alive(node.pid) and port_open(node.port):
            sys.exit(port_taken("kafka", node.port, "COINSTREAM_CLUSTER_KAFKA_PORT"))
    for node in nodes:
        node.home.mkdir(parents=True, exist_ok=True)
        node.config.touch(mode=0o600)  # the admin password and the TLS key
        node.config.chmod(0o600)
        node.config.write_text(render_node_config(settings, node, nodes))
    id_file = home / "cluster-id"
    if not all(_formatted(node.data, password) for node in nodes):
        # One node formatted apart from the others could not join them: start them all afresh
        # (a development cache; the message says what is dropped).
        if any(node.data.exists() for node in nodes):
            print(f"kafka: re-formatting the cluster's storage under {home}", flush=True)
        for node in nodes:
            shutil.rmtree(node.data, ignore_errors=True)
        id_file.write_text(_new_cluster_id())
        for node in nodes:
            _format(node.config, node.data, id_file.read_text(), password, home=node.home)
    for node in nodes:
        if pid_alive(node.pid):
            continue
        with open(node.log, "ab") as log:
            proc = subprocess.Popen(
                _java("kafka.Kafka", str(node.config), home=node.home, heap=heap),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node.pid.write_text(str(proc.pid))
    bootstrap = bootstrap_of(nodes)
    wait_ready(wait_seconds, bootstrap, watch=[(n.pid, n.log) for n in nodes], brokers=len(nodes))
    kafka_access.ensure_users(_local(bootstrap))
    print(f"kafka: {len(nodes)} nodes ready on {bootstrap} (logs {home}/node*/)", flush=True)


def stop_nodes(nodes: list[Node], grace: float = 30.0) -> None:
    """SIGTERM to every node at once (one by one, the last would wait for a quorum that has
    gone), SIGKILL to any still there after `grace` seconds."""
    pids = [(node, pid) for node in nodes if (pid := pid_alive(node.pid))]
    for _, pid in pids:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for node, pid in pids:
        while pid_alive(node.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(node.pid):
            os.kill(pid, 9)
            while pid_alive(node.pid):
                time.sleep(0.05)
        node.pid.unlink(missing_ok=True)
    if pids:
        print(f"kafka: stopped {len(pids)} nodes", flush=True)
