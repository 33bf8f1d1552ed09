"""One way for tests to reach real Kafka and PostgreSQL, whatever the machine offers:

1. endpoints named by KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL, when both are set;
2. Testcontainers (apache/kafka + postgres images), when a Docker engine answers;
3. otherwise (or when the containers cannot start, unless COINSTREAM_TEST_INFRA=containers)
   the project's native broker and cluster (infra/), started when not running.

Tests never skip for want of infrastructure: they start it, or fail saying why.
"""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str  # SASL_PLAINTEXT (SCRAM-SHA-512)
    database_url: str
    how: str
    # The broker's SASL_SSL listener (KAFKA_TLS_BOOTSTRAP_SERVERS with endpoints from the
    # environment; the native broker's TLS port otherwise).
    kafka_tls_bootstrap_servers: str = ""


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "no"
        return False


def from_testcontainers() -> tuple[Endpoints, list]:
    """The apache/kafka image run with the native broker's own server.properties (SCRAM client
    and TLS listeners, PLAIN controller, standard authorizer; infra.kafka.render_config), its
    storage formatted with the admin SCRAM credential as infra/kafka.py formats it. Not run on
    the development machine (no Docker there): kept in step with the native broker by sharing
    its config."""
    import socket
    import tempfile
    from pathlib import Path

    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    from eventkit.kafka import ADMIN, MECHANISM, password
    from eventkit.settings import Settings
    from infra import kafka as native
    from infra import kafka_access

    postgres = PostgresContainer(
        "postgres:15", username="coinstream", password="coinstream", dbname="postgres"
    ).start()

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    # Advertised addresses must be the host ports, known before the start: the container
    # listens on the same port numbers it is published on.
    port, tls_port, controller_port = free_port(), free_port(), free_port()
    settings = Settings()
    config = Path(tempfile.mkdtemp(prefix="coinstream-kafka-")) / "server.properties"
    config.write_text(
        native.render_config(
            settings,
            port=port,
            controller_port=controller_port,
            tls_port=tls_port,
            bind="0.0.0.0",
            tls_bind="0.0.0.0",
            advertised="127.0.0.1",
            tls_advertised="127.0.0.1",
            data=Path("/var/lib/kafka/data"),
        )
    )
    scram = f"{MECHANISM}=[name={ADMIN},password={password(settings, ADMIN)}]"
    kafka = (
        DockerContainer("apache/kafka:4.0.2")
        .with_bind_ports(port, port)
        .with_bind_ports(tls_port, tls_port)
        .with_volume_mapping(str(config.parent), "/etc/coinstream", "ro")
        .with_command(
            "bash -c '/opt/kafka/bin/kafka-storage.sh format -t \"$(/opt/kafka/bin/kafka-storage.sh"
            ' random-uuid)" -c /etc/coinstream/server.properties --ignore-formatted'
            f' --add-scram "{scram}" && exec /opt/kafka/bin/kafka-server-start.sh'
            " /etc/coinstream/server.properties'"
        )
        .start()
    )
    wait_for_logs(kafka, "Kafka Server started", timeout=120)
    kafka_access.ensure_users(
        settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{port}"})
    )
    pg_port = postgres.get_exposed_port(5432)
    url = f"postgresql://coinstream:coinstream@127.0.0.1:{pg_port}/postgres"
    found = Endpoints(f"127.0.0.1:{port}", url, "testcontainers", f"127.0.0.1:{tls_port}")
    return found, [kafka, postgres]


def from_native(kafka_url: str | None = None, database_url: str | None = None) -> Endpoints:
    """Starts whichever native server has no endpoint named in the environment."""
    from infra import kafka, paths, postgres

    if not database_url:
        postgres.start()
    if not kafka_url:
        kafka.start()
    return Endpoints(
        kafka_url or paths.KAFKA_BOOTSTRAP,
        database_url or paths.DATABASE_URL,
        "native" if not (kafka_url or database_url) else "native+environment",
        tls_servers(),
    )


def tls_servers() -> str:
    from infra import kafka

    return os.environ.get("KAFKA_TLS_BOOTSTRAP_SERVERS", f"{kafka.TLS_HOST}:{kafka.TLS_PORT}")


def acquire() -> tuple[Endpoints, list]:
    """Endpoints for this test session, and any containers to stop afterwards."""
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if kafka and database:
        return Endpoints(kafka, database, "environment", tls_servers()), []
    if (
        not (kafka or database)
        and os.environ.get("COINSTREAM_TEST_INFRA", "auto") != "native"
        and docker_engine_answers()
    ):
        try:
            return from_testcontainers()
        except Exception as exc:  # noqa: BLE001 - e.g. an engine that cannot pull the images
            if os.environ.get("COINSTREAM_TEST_INFRA") == "containers":
                raise
            print(f"Testcontainers failed ({exc!r}); using the native broker and cluster")
    return from_native(kafka, database), []
