"""Our messages as the official CloudEvents Python SDK reads them: events appended to recharge's
outbox, relayed to Kafka by the outbox relay, read back and converted with the SDK's Kafka
binding (structured content mode) give the same id, type, source, time and data."""

import uuid

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat

from eventkit.eventstore import append
from schemas import headers, topics
from tests.integration.test_plumbing import envelope
from tests.support.kafka import read_topic, relay_all


async def test_the_sdk_reads_what_the_relay_published(namespace):
    settings = await namespace("ce")  # own outbox and topic: the relay drains all of it
    from eventkit.db import create_pool

    pool = await create_pool(settings.database_for("recharge"))
    user = f"fan-{uuid.uuid4().hex[:8]}"
    sent = [envelope(user, v, coins=10 * v) for v in (1, 2)]
    try:
        async with pool.acquire() as conn, conn.transaction():
            await append(conn, topics.RECHARGE_EVENTS, *sent)
        await relay_all(settings, "recharge")
    finally:
        await pool.close()
    records = await read_topic(settings, topics.RECHARGE_EVENTS, expect=len(sent))
    assert len(records) == len(sent)

    by_id = {str(e.id): e for e in sent}
    for record in records:
        found = dict(record.headers)
        assert found[headers.CONTENT_TYPE] == headers.STRUCTURED_CONTENT_TYPE.encode()
        message = ce_kafka.KafkaMessage(headers=found, key=record.key, value=record.value)
        # from_kafka picks the mode as any SDK user would: structured, as no ce_* header is set
        for event in (
            ce_kafka.from_structured(message, JSONFormat()),
            ce_kafka.from_kafka(message, JSONFormat()),
        ):
            ours = by_id[event.get_id()]
            assert event.get_type() == ours.type
            assert event.get_source() == ours.source
            assert event.get_time() == ours.time
            assert event.get_data() == ours.data
            assert event.get_specversion() == "1.0"
            assert event.get_extension("aggregateid") == ours.aggregateid
            assert event.get_extension("dataversion") == ours.dataversion
            # the binding maps the Kafka key to `partitionkey`: ours is the aggregate
            assert event.get_extension("partitionkey") == ours.aggregateid
