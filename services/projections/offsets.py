"""Partitions and end offsets of the source topics, read without joining any consumer group."""

from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.kafka import client_options
from eventkit.settings import Settings


async def topic_partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    # A group-less consumer learns partitions only for topics its client tracks.
    await consumer._client.set_topics(topics)
    return [
        TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
    ]


async def end_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(**client_options(settings, "projections"), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topics)
        return {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()
