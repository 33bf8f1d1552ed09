"""Event store, outbox relay and idempotent consumer against real PostgreSQL and Kafka."""

import asyncio
import uuid

import orjson
import pytest

from eventkit.codec import decode, new_envelope
from eventkit.consumer import IdempotentConsumer
from eventkit.eventstore import ConcurrencyConflict, append, read_stream
from eventkit.outbox import OutboxRelay
from eventkit.signing import owner_headers
from schemas import topics
from schemas.events.recharge import CoinPurchased
from schemas.money import Money
from services.gifting.handlers import HANDLERS as GIFTING_HANDLERS
from services.projections.projector import Incoming, Projector
from tests.support.kafka import read_topic


def purchase(user: str, coins: int = 70) -> CoinPurchased:
    usd = Money(amount_minor=99, currency="USD")
    return CoinPurchased(
        purchase_id=str(uuid.uuid4()),
        user_id=user,
        bundle_id="coins_70",
        coins=coins,
        country="US",
        channel="web",
        price=usd,
        settlement=usd,
        fee=Money(amount_minor=3, currency="USD"),
        fx_rate="1",
        catalog_version=1,
        rates_version=1,
        provider="test",
        provider_txn_id=str(uuid.uuid4()),
    )


def envelope(user: str, version: int = 1, coins: int = 70):
    return new_envelope(
        "/test",
        purchase(user, coins),
        aggregate_id=f"purchase-{user}",
        aggregate_version=version,
        subject=user,
    )


async def test_conflicting_append_fails_and_writes_nothing(pools):
    stream = f"stream-{uuid.uuid4()}"
    first = new_envelope("/t", purchase("u"), aggregate_id=stream, aggregate_version=1)
    rival = new_envelope("/t", purchase("u"), aggregate_id=stream, aggregate_version=1)
    async with pools["recharge"].acquire() as conn:
        async with conn.transaction():
            await append(conn, topics.RECHARGE_EVENTS, first)
        with pytest.raises(ConcurrencyConflict):
            async with conn.transaction():
                await append(conn, topics.RECHARGE_EVENTS, rival)
        assert [e["id"] for e in await read_stream(conn, stream)] == [str(first.id)]
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", rival.id) == 0


async def test_relay_killed_before_marking_resends_and_consumers_count_once(prepared, pools):
    """The relay sends, 'dies' before marking the rows sent, and a new relay sends them again:
    the topic holds duplicates, yet the wallet and the read model count each event once."""
    user = f"fan-{uuid.uuid4().hex[:8]}"
    events = [envelope(user, v, coins=10 * v) for v in (1, 2, 3)]
    async with pools["recharge"].acquire() as conn, conn.transaction():
        await append(conn, topics.RECHARGE_EVENTS, *events)
    dsn = prepared.database_for("recharge")

    crashed = OutboxRelay(prepared, dsn, principal="recharge")
    await crashed.start()
    sent_before_crash = await crashed.send_batch()  # acked by Kafka, never marked
    await crashed.stop()
    assert len(sent_before_crash) >= 3

    survivor = OutboxRelay(prepared, dsn, principal="recharge")
    await survivor.start()
    try:
        assert await survivor.relay_once() >= 3  # the same rows go out again
        assert await survivor.relay_once() == 0
    finally:
        await survivor.stop()
    unsent = await pools["recharge"].fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    assert unsent == 0

    records = await read_topic(prepared, topics.RECHARGE_EVENTS, expect=6)
    mine = [r for r in records if r.key == f"purchase-{user}".encode()]
    assert len(mine) == 6, "each event should be on the topic twice"
    assert [decode(r.value)[0].aggregateversion for r in mine] == [1, 2, 3, 1, 2, 3]

    consumer = IdempotentConsumer(
        prepared, pools["gifting"], "test", [], GIFTING_HANDLERS, principal="gifting"
    )
    assert await consumer.apply(mine) == []
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", user)
        == 60
    )

    projector = Projector(pools["projections"])
    await projector.apply([Incoming(r.value, r.key, r.topic, r.partition, r.offset) for r in mine])
    row = await pools["projections"].fetchrow(
        "SELECT purchased, balance, events FROM wallet_balances WHERE user_id = $1", user
    )
    assert dict(row) == {"purchased": 60, "balance": 60, "events": 3}


async def test_idempotent_consumer_dead_letters_poison_and_applies_the_rest(prepared, pools):
    user = f"fan-{uuid.uuid4().hex[:8]}"
    good = envelope(user, coins=5)

    class Record:
        def __init__(self, value, offset):
            self.value, self.offset, self.key = value, offset, good.aggregateid.encode()
            self.topic, self.partition = prepared.topic(topics.RECHARGE_EVENTS), 0
            self.headers = owner_headers(prepared, topics.RECHARGE_EVENTS, value, self.key)

    from eventkit.codec import encode

    batch = [
        Record(b"\x00garbage", 1),
        Record(encode(good), 2),
        Record(orjson.dumps({"type": "Nope"}), 3),
        Record(encode(good), 4),
    ]
    consumer = IdempotentConsumer(
        prepared, pools["gifting"], "test", [], GIFTING_HANDLERS, principal="gifting"
    )
    poison = await consumer.apply(batch)
    assert [(r.offset, reason.split(":")[0]) for r, reason in poison] == [
        (1, "not JSON"),
        (3, "not a valid envelope"),
    ]
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", user) == 5
    )


async def test_consumer_loop_sends_poison_to_the_dead_letter_topic(prepared, pools):
    """Through Kafka: garbage then a good event; the good one is applied, the garbage is in the
    dead-letter topic with its reason, and the loop keeps going."""
    from eventkit.codec import encode
    from eventkit.kafka import producer

    user = f"fan-{uuid.uuid4().hex[:8]}"
    marker = f"poison-{uuid.uuid4()}".encode()
    p = producer(prepared, "recharge")
    await p.start()
    try:
        good = envelope(user, coins=7)
        key = good.aggregateid.encode()  # the poison too: one partition, poison first
        for value in (marker, encode(good)):  # the poison is signed too
            headers = owner_headers(prepared, topics.RECHARGE_EVENTS, value, key)
            await p.send_and_wait(
                prepared.topic(topics.RECHARGE_EVENTS), value, key=key, headers=headers
            )
    finally:
        await p.stop()
    consumer = IdempotentConsumer(
        prepared,
        pools["gifting"],
        f"{prepared.db_prefix}-dlq-test",
        [topics.RECHARGE_EVENTS],
        GIFTING_HANDLERS,
        principal="admin",  # a group of its own, outside the ACLs
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(100):
            if (
                await pools["gifting"].fetchval(
                    "SELECT balance FROM wallets WHERE user_id = $1", user
                )
                == 7
            ):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("good event after the poison was not applied")
    finally:
        task.cancel()
    dead = [
        r for r in await read_topic(prepared, topics.DEAD_LETTER, expect=1) if r.value == marker
    ]
    assert len(dead) >= 1
    headers = dict(dead[0].headers)
    assert headers["reason"].startswith(b"not JSON")
    assert headers["topic"] == prepared.topic(topics.RECHARGE_EVENTS).encode()


async def test_an_api_started_before_its_database_waits_for_it(prepared):
    """Started while PostgreSQL is unreachable (compose start order, a restart in an outage),
    the app keeps retrying instead of exiting; once the database answers it serves."""
    import socket

    from services.gifting.api import create

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    unreachable = prepared.model_copy(
        update={
            "database_url": f"postgresql://coinstream:coinstream@127.0.0.1:{closed_port}/postgres"
        }
    )
    app = create(unreachable)
    starting = asyncio.create_task(app.router.lifespan_context(app).__aenter__())
    await asyncio.sleep(2.5)
    assert not starting.done(), "the app gave up (or connected to a closed port)"
    starting.cancel()
    await asyncio.gather(starting, return_exceptions=True)


async def test_dropping_a_namespace_removes_its_topics_and_its_faust_topics_only(endpoints):
    """drop_namespace deletes `<prefix>.*` and the faust app's `<db_prefix>-*` topics, and
    leaves a neighbour whose prefix merely starts the same way."""
    from aiokafka.admin import NewTopic

    from eventkit.kafka import admin as kafka_admin
    from eventkit.settings import Settings
    from infra.namespace import drop_namespace, prepare_namespace

    prefix = f"d{uuid.uuid4().hex[:8]}"
    mine = Settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        database_url=endpoints.database_url,
        db_prefix=prefix,
        topic_prefix=f"{prefix}.",
    )
    await prepare_namespace(mine)
    faust_topic, neighbour = f"{prefix}-projections-__assignor-__leader", f"{prefix}x-other"
    admin = kafka_admin(mine)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (faust_topic, neighbour)])
        for _ in range(100):  # created, maybe not yet in the broker's metadata
            if {faust_topic, neighbour} <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
        await drop_namespace(mine)
        for _ in range(50):  # deletion is asynchronous in Kafka: metadata catches up
            left = set(await admin.list_topics())
            gone = faust_topic not in left and not [t for t in left if t.startswith(f"{prefix}.")]
            if gone:
                break
            await asyncio.sleep(0.2)
        assert gone, sorted(t for t in left if t.startswith(prefix))
        assert neighbour in left
    finally:
        await admin.delete_topics([neighbour])
        await admin.close()


async def test_readyz_says_which_dependency_is_down(prepared):
    """/readyz answers 200 while PostgreSQL and Kafka answer, 503 naming the one that does not
    (here: Kafka moved to a closed port, then the database pool closed)."""
    import httpx

    from infra.system import free_port
    from services.gifting.api import create

    app = create(prepared)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            r = await client.get("/readyz")
            assert (r.status_code, r.json()["checks"]) == (200, {"postgres": "ok", "kafka": "ok"})
            app.state.settings = prepared.model_copy(
                update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
            )
            r = await client.get("/readyz")
            assert r.status_code == 503 and r.json()["checks"]["postgres"] == "ok"
            assert r.json()["checks"]["kafka"].startswith("down")
            app.state.settings = prepared
            await app.state.pool.close()
            r = await client.get("/readyz")
            assert r.status_code == 503 and r.json()["checks"]["postgres"].startswith("down")
            assert r.json()["checks"]["kafka"] == "ok"
