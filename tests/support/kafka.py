"""Reading whole topics in tests (no consumer group: assign every partition from the start),
and relaying a whole outbox onto them."""

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.kafka import ADMIN, client_options
from eventkit.outbox import OutboxRelay
from eventkit.settings import Settings


async def read_topic(settings: Settings, topic: str, expect: int, timeout: float = 20.0):
    """Every record on `topic` once at least `expect` have arrived (or timeout), as a list."""
    name = settings.topic(topic)
    consumer = AIOKafkaConsumer(  # as the operator: the tests read the dead-letter topic too
        **client_options(settings, ADMIN), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, p)
            for p in consumer.partitions_for_topic(name) or await _partitions(consumer, name)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records = []
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            records += [r for rs in batch.values() for r in rs]
            if len(records) >= expect:
                more = await consumer.getmany(timeout_ms=300)  # catch anything just behind
                records += [r for rs in more.values() for r in rs]
                break
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    await consumer._client.force_metadata_update()
    parts = consumer.partitions_for_topic(name)
    if not parts:
        raise AssertionError(f"topic {name} does not exist")
    return parts


async def relay_all(settings: Settings, service: str) -> None:
    """Relays the service's whole outbox to Kafka, as its relay process would."""
    relay = OutboxRelay(settings, settings.database_for(service), principal=service)
    await relay.start()
    try:
        while await relay.relay_once():
            pass
    finally:
        await relay.stop()
