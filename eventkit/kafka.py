"""Kafka clients with the project's defaults, and topic creation."""

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from eventkit.settings import Settings
from schemas import topics


def producer(settings: Settings, **overrides) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send is written once and in order per partition."""
    options = dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=256 * 1024,
    )
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def create_topics(settings: Settings, partitions: int = topics.PARTITIONS) -> list[str]:
    """Creates the contract's topics when missing (the broker does not auto-create them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.topic(t) for t in topics.ALL]
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        await admin.close()


async def ping(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=3000
    )
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()
