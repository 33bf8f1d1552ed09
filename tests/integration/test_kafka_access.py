"""The broker itself refuses what a principal may not do: an anonymous client, a service
writing another's topic, a reader outside READERS, anyone reading the dead-letter topic. And
each principal can still do its job (write its topic, read what READERS says), in plaintext
SASL and over the TLS listener."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from eventkit.codec import encode
from eventkit.consumer import IdempotentConsumer
from eventkit.kafka import client_options, consumer, producer
from schemas import topics
from services.gifting.handlers import HANDLERS as GIFTING_HANDLERS
from tests.support.kafka import read_topic
from tests.support.wallets import coin_purchased

PRINCIPALS = (*topics.SERVICE_PRINCIPALS, *topics.OUTSIDE_PUBLISHERS)


def may_write(principal: str, topic: str) -> bool:
    return topic == topics.DEAD_LETTER or topics.OWNER.get(topic) == principal


def may_read(principal: str, topic: str) -> bool:
    return principal in topics.READERS.get(topic, ())


async def refused(what, timeout: float = 20) -> KafkaError | TimeoutError:
    """The error `what` ends with (it must not succeed)."""
    try:
        async with asyncio.timeout(timeout):
            await what()
    except (KafkaError, TimeoutError) as exc:
        return exc
    raise AssertionError("the broker accepted it")


async def test_a_forged_coin_purchase_is_refused_anonymously_and_as_gifting(namespace):
    """The issue's attack: 1,000,000 coins for 1 cent, written straight to the recharge topic."""
    from eventkit.db import create_pool

    prepared = await namespace("aclf")  # its own topics: the control message stays here
    pool = await create_pool(prepared.database_for("gifting"))
    user = f"fan-{uuid.uuid4().hex[:8]}"
    forged, _ = coin_purchased(user, 1_000_000)
    topic, value, key = prepared.topic(topics.RECHARGE_EVENTS), encode(forged), b"forged"

    anonymous = AIOKafkaProducer(
        bootstrap_servers=prepared.kafka_bootstrap_servers, request_timeout_ms=3000
    )

    async def send_anonymously():
        await anonymous.start()
        await anonymous.send_and_wait(topic, value, key=key)

    try:
        assert await refused(send_anonymously)  # no SASL: the broker closes the connection
    finally:
        await anonymous.stop()

    as_gifting = producer(prepared, "gifting")
    await as_gifting.start()
    try:
        error = await refused(lambda: as_gifting.send_and_wait(topic, value, key=key))
        assert isinstance(error, TopicAuthorizationFailedError), repr(error)
    finally:
        await as_gifting.stop()

    # Control: the topic's owner can write it, so the reads below would have seen the forgery.
    owner = producer(prepared, "recharge")
    await owner.start()
    try:
        await owner.send_and_wait(topic, b"control", key=b"control-" + user.encode())
    finally:
        await owner.stop()
    records = await read_topic(prepared, topics.RECHARGE_EVENTS, expect=1, timeout=5)
    assert b"control-" + user.encode() in {r.key for r in records}
    assert key not in {r.key for r in records}, "the forged purchase reached the topic"

    # And gifting's consumer, caught up on the topic, credited nobody.
    gifting = IdempotentConsumer(
        prepared,
        pool,
        f"{prepared.db_prefix}-gifting",
        [topics.RECHARGE_EVENTS],
        GIFTING_HANDLERS,
        principal="gifting",
    )
    try:
        await gifting.apply([r for r in records if r.key == key])
        assert await pool.fetchval("SELECT balance FROM wallets WHERE user_id = $1", user) is None
    finally:
        await pool.close()


async def _can_write(settings, principal: str, topic: str) -> KafkaError | None:
    client = producer(settings, principal, request_timeout_ms=5000)
    await client.start()
    try:
        async with asyncio.timeout(20):
            await client.send_and_wait(settings.topic(topic), b"acl-probe", key=b"acl-probe")
        return None
    except KafkaError as exc:
        return exc
    finally:
        await client.stop()


async def _can_read(settings, principal: str, topic: str) -> KafkaError | None:
    """One fetch from the start of partition 0, no group (as the rebuild and tests read). A
    topic the principal may not even describe is absent from its metadata (aiokafka would then
    wait for a leader forever, quietly): that counts as refused."""
    client = consumer(settings, principal, enable_auto_commit=False)
    await client.start()
    try:
        if settings.topic(topic) not in await client.topics():
            return TopicAuthorizationFailedError(settings.topic(topic))
        tp = TopicPartition(settings.topic(topic), 0)
        client.assign([tp])
        client.seek(tp, 0)
        async with asyncio.timeout(20):
            await client.getmany(tp, timeout_ms=1000)
        return None
    except KafkaError as exc:
        return exc
    finally:
        await client.stop()


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_each_principal_writes_and_reads_exactly_what_the_topic_table_says(
    namespace, principal
):
    prepared = await namespace(f"acl{principal[:3]}")  # probes land on topics of its own
    wrong = []
    for topic in topics.ALL:
        writes = await _can_write(prepared, principal, topic)
        if (writes is None) != may_write(principal, topic):
            wrong.append(f"write {topic}: {'allowed' if writes is None else repr(writes)}")
        elif writes is not None and not isinstance(writes, TopicAuthorizationFailedError):
            wrong.append(f"write {topic}: refused, but not by the ACLs: {writes!r}")
        reads = await _can_read(prepared, principal, topic)
        if (reads is None) != may_read(principal, topic):
            wrong.append(f"read {topic}: {'allowed' if reads is None else repr(reads)}")
    assert not wrong, f"{principal}: " + "; ".join(wrong)


async def test_a_service_reads_in_its_own_consumer_group_only(namespace):
    """payout may join `<db_prefix>-payout`, not gifting's group."""
    prepared = await namespace("aclg")
    topic = prepared.topic(topics.GIFTING_EVENTS)

    async def join(group: str) -> None:
        client = AIOKafkaConsumer(
            topic,
            **client_options(prepared, "payout"),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await client.start()
        try:
            async with asyncio.timeout(30):
                await client.getmany(timeout_ms=2000)
                await client.commit()  # an offset commit needs the group's READ
        finally:
            await client.stop()

    await join(f"{prepared.db_prefix}-payout")
    error = await refused(lambda: join(f"{prepared.db_prefix}-gifting"), timeout=40)
    assert isinstance(error, GroupAuthorizationFailedError), repr(error)


async def test_a_client_reaches_the_broker_over_tls(prepared, endpoints):
    """SASL_SSL on the TLS listener: the broker's certificate verifies against the generated CA
    (host name included), and the recharge principal writes and reads back its topic."""
    from infra.kafka_access import CA_FILE

    tls = prepared.model_copy(
        update={
            "kafka_bootstrap_servers": endpoints.kafka_tls_bootstrap_servers,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_ssl_cafile": prepared.secrets_dir / CA_FILE,
        }
    )
    marker = f"tls-{uuid.uuid4()}".encode()
    out = producer(tls, "recharge")
    await out.start()
    try:
        await out.send_and_wait(tls.topic(topics.SANCTIONS_EVENTS), b"over tls", key=marker)
    finally:
        await out.stop()
    reader = consumer(tls, "gifting", enable_auto_commit=False)
    await reader.start()
    try:
        name = tls.topic(topics.SANCTIONS_EVENTS)
        await reader._client.force_metadata_update()
        tps = [TopicPartition(name, p) for p in reader.partitions_for_topic(name) or ()]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        seen: set[bytes] = set()
        for _ in range(20):
            batch = await reader.getmany(timeout_ms=500)
            seen |= {r.key for rs in batch.values() for r in rs}
            if marker in seen:
                break
        assert marker in seen
    finally:
        await reader.stop()
