"""Apache Kafka broker, single KRaft node (broker + controller) on 127.0.0.1.

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


def _java(main: str, *args: str) -> list[str]:
    return [
        "java",
        HEAP,
        "-cp",
        f"{LIB}/*",
        f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={HOME}",
        main,
        *args,
    ]


def _format_storage() -> None:
    password = _admin_password()
    if (DATA / "meta.properties").exists():
        if SECURED.exists() and SECURED.read_text().strip() == _fingerprint(password):
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
    cluster_id = "-"
    while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: "-x" would parse as a flag
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    subprocess.run(
        _java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(CONFIG),
            "--ignore-formatted",
            "--add-scram",
            f"{clients.MECHANISM}=[name={clients.ADMIN},password={password}]",
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    SECURED.write_text(_fingerprint(password) + "\n")


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


def wait_ready(wait_seconds: float = 120, bootstrap: str = KAFKA_BOOTSTRAP) -> None:
    """An open port is not enough: retry an admin call (list topics) until it answers."""
    import logging

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "not yet" is expected here
    deadline = time.monotonic() + wait_seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        if bootstrap == KAFKA_BOOTSTRAP and PID.exists() and not pid_alive(PID):
            sys.exit(f"kafka: broker exited during start-up; log tail:\n{log_tail(LOG)}")
        try:
            asyncio.run(_list_topics(_local(bootstrap)))
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
            time.sleep(1)
    sys.exit(
        f"kafka: no answer from {bootstrap} after {wait_seconds}s ({last!r});\n{log_tail(LOG)}"
    )


async def _list_topics(settings: Settings) -> list[str]:
    admin = clients.admin(settings, request_timeout_ms=5000)
    await admin.start()
    try:
        return await admin.list_topics()
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
