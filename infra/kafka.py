"""Apache Kafka broker, single KRaft node (broker + controller) on 127.0.0.1.

Jars come from Maven Central (infra/kafka/pom.xml) into .cache/kafka/lib and are reused when
present; storage is formatted once, so topics and offsets survive a stop/start.
"""

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

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


def _write_config() -> None:
    template = (HERE / "server.properties").read_text()
    CONFIG.write_text(
        template.format(port=KAFKA_PORT, controller_port=KAFKA_CONTROLLER_PORT, data=DATA)
    )


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
    if (DATA / "meta.properties").exists():
        return
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
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


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
            asyncio.run(_list_topics(bootstrap))
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
            time.sleep(1)
    sys.exit(
        f"kafka: no answer from {bootstrap} after {wait_seconds}s ({last!r});\n{log_tail(LOG)}"
    )


async def _list_topics(bootstrap: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
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
    PID.unlink(missing_ok=True)


def status() -> str:
    pid = pid_alive(PID)
    return f"kafka: running (pid {pid}) on {KAFKA_BOOTSTRAP}" if pid else "kafka: stopped"


def crash() -> None:
    """SIGKILL the broker (fault injection); `start()` brings it back on the same data."""
    pid = pid_alive(PID)
    if pid:
        os.kill(pid, 9)
        while pid_alive(PID) or port_open(KAFKA_PORT):
            time.sleep(0.05)
