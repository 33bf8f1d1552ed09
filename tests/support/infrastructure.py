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
    kafka_bootstrap_servers: str
    database_url: str
    how: str


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "no"
        return False


def from_testcontainers() -> tuple[Endpoints, list]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    postgres = PostgresContainer(
        "postgres:15", username="coinstream", password="coinstream", dbname="postgres"
    ).start()
    kafka = (
        DockerContainer("apache/kafka:4.0.2")
        .with_exposed_ports(9092)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    # The advertised address must be the host port Docker picked, known only after start; the
    # image reads it from the environment at start-up, so bind a fixed free host port first.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kafka = (
        kafka.with_bind_ports(9092, port)
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .start()
    )
    wait_for_logs(kafka, "Kafka Server started", timeout=120)
    pg_port = postgres.get_exposed_port(5432)
    url = f"postgresql://coinstream:coinstream@127.0.0.1:{pg_port}/postgres"
    return Endpoints(f"127.0.0.1:{port}", url, "testcontainers"), [kafka, postgres]


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
    )


def acquire() -> tuple[Endpoints, list]:
    """Endpoints for this test session, and any containers to stop afterwards."""
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if kafka and database:
        return Endpoints(kafka, database, "environment"), []
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
