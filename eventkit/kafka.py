"""Kafka clients with the project's defaults, and topic creation.

Every client authenticates as a principal (SCRAM-SHA-512): a service role (`recharge`, ...,
whose ACLs come from schemas/topics), an outside publisher (`accounts`, `moderation`), or
`admin`, the broker's super user (infra provisioning, ops tools, the tests' own harness). Its
password is the secret `<principal>_kafka_password` (eventkit.secrets). `client_options` is the
one place that turns (settings, principal) into a client's security options; every producer,
consumer, admin client and the faust app are built from it.
"""

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from eventkit.secrets import secret
from eventkit.settings import Settings
from schemas import topics

ADMIN = "admin"  # the broker's super user (super.users=User:admin)
# A client asks only the brokers its last metadata named, never the bootstrap list again: one
# fetched while two of three brokers were down names one broker, and when that one dies the
# client can reach nobody until it returns (aiokafka: "Unable to update metadata from [1]").
# Refreshed every 10 s (aiokafka's default is 5 min), the list is whole soon after an outage.
METADATA_MAX_AGE_MS = 10_000
PRINCIPALS = (*topics.SERVICE_PRINCIPALS, *topics.OUTSIDE_PUBLISHERS, ADMIN)
MECHANISM = "SCRAM-SHA-512"


def password(settings: Settings, principal: str) -> str:
    if principal not in PRINCIPALS:
        raise ValueError(f"unknown Kafka principal {principal!r}; known: {PRINCIPALS}")
    return secret(settings, f"{principal}_kafka_password")


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of SASL_SSL (verifies the broker's certificate and host name), else None."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return None
    cafile = settings.kafka_ssl_cafile
    return ssl.create_default_context(cafile=str(cafile) if cafile else None)


def client_options(settings: Settings, principal: str) -> dict[str, Any]:
    """aiokafka's connection and security options for a client acting as `principal`."""
    return dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=MECHANISM,
        sasl_plain_username=principal,
        sasl_plain_password=password(settings, principal),
        ssl_context=ssl_context(settings),
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )


def confluent_config(settings: Settings, principal: str) -> dict[str, str | int | float | bool]:
    """The same, for confluent-kafka (librdkafka) clients: the provisioning admin client."""
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
        "sasl.mechanisms": MECHANISM,
        "sasl.username": principal,
        "sasl.password": password(settings, principal),
    }
    if settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_ssl_cafile:
        config["ssl.ca.location"] = str(settings.kafka_ssl_cafile)
    return config


def faust_credentials(settings: Settings, principal: str):
    """faust's `broker_credentials` for `principal` (SCRAM-SHA-512, TLS with SASL_SSL)."""
    import faust

    return faust.SASLCredentials(
        username=principal,
        password=password(settings, principal),
        mechanism=MECHANISM,
        ssl_context=ssl_context(settings),
    )


def producer(settings: Settings, principal: str, **overrides) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send is written once and in order per partition."""
    options = dict(
        client_options(settings, principal),
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=256 * 1024,
    )
    options.update(overrides)
    return AIOKafkaProducer(**options)


def consumer(settings: Settings, principal: str, *topic_names: str, **options) -> AIOKafkaConsumer:
    """A consumer acting as `principal` (its group, if any, must be one the ACLs give it)."""
    return AIOKafkaConsumer(*topic_names, **client_options(settings, principal), **options)


def admin(settings: Settings, principal: str = ADMIN, **options) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings, principal), **options)


async def create_topics(settings: Settings, partitions: int = topics.PARTITIONS) -> list[str]:
    """Creates the contract's topics when missing (the broker does not auto-create them)."""
    client = admin(settings)
    await client.start()
    try:
        existing = set(await client.list_topics())
        wanted = [settings.topic(t) for t in topics.ALL]
        missing = [t for t in wanted if t not in existing]
        replicas = settings.kafka_replication_factor
        # Replicated, a write is acknowledged once another replica has it too, and a replica
        # that fell behind never becomes leader (acknowledged events are never lost).
        configs = (
            {"min.insync.replicas": str(replicas - 1), "unclean.leader.election.enable": "false"}
            if replicas > 1
            else {}
        )
        if missing:
            try:
                await client.create_topics(
                    [NewTopic(t, partitions, replicas, topic_configs=configs) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        await client.close()


async def ping(settings: Settings, principal: str) -> None:
    client = admin(settings, principal, request_timeout_ms=3000)
    await client.start()
    try:
        await client.list_topics()
    finally:
        await client.close()
