"""Several outbox relays on one outbox (real PostgreSQL and Kafka): they share the shards, every
row is published, each once while nobody dies, and per-aggregate order holds on every partition;
when one dies mid-batch the others take its shards over and only its unmarked rows go out twice."""

import asyncio
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit import relay_shards
from eventkit.codec import decode
from eventkit.consumer import IdempotentConsumer
from eventkit.eventstore import append
from eventkit.kafka import ADMIN, client_options
from eventkit.outbox import OutboxRelay
from schemas import topics
from services.gifting.handlers import HANDLERS as GIFTING_HANDLERS
from tests.integration.test_plumbing import envelope

VERSIONS = 6


def relay(settings, **options) -> OutboxRelay:
    return OutboxRelay(
        settings,
        settings.database_for("recharge"),
        principal="recharge",
        batch_size=options.pop("batch_size", 25),
        idle_seconds=0.01,
        rebalance_seconds=0.1,
        **options,
    )


async def append_rounds(pools, users: list[str], pause: float = 0.0) -> dict[uuid.UUID, int]:
    """Version v of every aggregate, round after round (so aggregates interleave in the outbox);
    returns each event id's coins."""
    coins: dict[uuid.UUID, int] = {}
    for v in range(1, VERSIONS + 1):
        events = [envelope(u, v, coins=v) for u in users]
        async with pools["recharge"].acquire() as conn, conn.transaction():
            await append(conn, topics.RECHARGE_EVENTS, *events)
        coins.update({e.id: v for e in events})
        await asyncio.sleep(pause)
    return coins


async def wait_until(check, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def all_sent(pools, ids) -> bool:
    unsent = await pools["recharge"].fetchval(
        "SELECT count(*) FROM outbox WHERE event_id = ANY($1) AND sent_at IS NULL", list(ids)
    )
    return unsent == 0


async def converged(relays: list[OutboxRelay]) -> bool:
    held = [r.shards for r in relays]
    union = set().union(*held)
    return (
        all(held)
        and sum(map(len, held)) == len(union) == relay_shards.SHARDS
        and max(map(len, held)) <= relay_shards.quota(len(relays))
    )


async def whole_topic(settings, keys: set[bytes]):
    """Every record of `keys` on the recharge topic up to its end offsets, per partition in
    offset order (the relays awaited every ack before marking, so the end covers them all)."""
    name = settings.topic(topics.RECHARGE_EVENTS)
    consumer = AIOKafkaConsumer(**client_options(settings, ADMIN), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
        return [r for r in records if r.key in keys]
    finally:
        await consumer.stop()


def check_order(records) -> dict[uuid.UUID, int]:
    """Asserts each aggregate's first copies are versions 1..VERSIONS in offset order on its one
    partition; returns how many records each event id has."""
    copies: dict[uuid.UUID, int] = defaultdict(int)
    firsts: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = decode(r.value)[0]
        partitions[r.key].add(r.partition)
        if not copies[event.id]:
            firsts[r.key].append(event.aggregateversion)
        copies[event.id] += 1
    assert all(len(p) == 1 for p in partitions.values())
    wrong = {k: v for k, v in firsts.items() if v != list(range(1, VERSIONS + 1))}
    assert not wrong, f"out of order or missing: {dict(list(wrong.items())[:3])}"
    return copies


async def run_all(relays):
    return [asyncio.create_task(r.run()) for r in relays]


async def cancel(tasks) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_three_relays_share_the_shards_and_publish_each_row_once_in_order(prepared, pools):
    users = [f"fan-{uuid.uuid4().hex[:8]}" for _ in range(60)]
    relays = [relay(prepared) for _ in range(3)]
    tasks = await run_all(relays)
    try:
        await wait_until(lambda: converged(relays))
        coins = await append_rounds(pools, users, pause=0.05)  # while they relay
        await wait_until(lambda: all_sent(pools, coins))
        assert await converged(relays)  # nobody took over anybody's shards meanwhile
        held = [set(r.shards) for r in relays]
    finally:
        await cancel(tasks)

    records = await whole_topic(prepared, {f"purchase-{u}".encode() for u in users})
    copies = check_order(records)
    assert set(copies) == set(coins), "every row published"
    assert set(copies.values()) == {1}, "each row once while no relay dies"
    shard_of = dict(
        await pools["recharge"].fetch(
            f"SELECT key, {relay_shards.SHARD_OF_KEY} FROM outbox WHERE event_id = ANY($1)",
            list(coins),
        )
    )
    for shards in held:  # each replica had a share of these aggregates
        assert any(shard in shards for shard in shard_of.values())


@pytest.mark.parametrize("how", ["server ends its session", "task cancelled mid-send"])
async def test_a_relay_killed_mid_batch_hands_its_shards_over_in_order(prepared, pools, how):
    """The victim holds every shard and has sent a batch it never marks when it dies; the two
    survivors take its shards over: nothing is lost, only the victim's batch goes out twice,
    the first copies keep per-aggregate order, and a consumer counts each event once."""
    users = [f"fan-{uuid.uuid4().hex[:8]}" for _ in range(40)]
    coins = await append_rounds(pools, users)
    victim = relay(prepared, batch_size=50)
    await victim.start()
    assert len(victim.shards) == relay_shards.SHARDS  # alone: it takes them all
    survivors = [relay(prepared) for _ in range(2)]
    tasks = await run_all(survivors)
    try:
        await asyncio.sleep(0.5)
        assert not any(s.shards for s in survivors), "the victim's shards are not free yet"
        conn = victim.conn
        assert conn is not None
        if how == "server ends its session":
            died = set(await victim.send_batch())  # acked by Kafka, never marked
            admin = await pools["recharge"].acquire()
            try:
                await admin.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
            finally:
                await pools["recharge"].release(admin)
        else:
            send = asyncio.create_task(victim.send_batch())
            await asyncio.sleep(0)  # the batch is read and its sends under way
            await asyncio.sleep(0.005)
            send.cancel()
            await asyncio.gather(send, return_exceptions=True)
            died = {
                r["id"]
                for r in await pools["recharge"].fetch(
                    "SELECT id FROM outbox WHERE event_id = ANY($1) ORDER BY id LIMIT 50",
                    list(coins),
                )
            }  # at most the victim's batch (the 50 oldest of its shards)
        await victim.stop()
        await wait_until(lambda: all_sent(pools, coins))
        assert await converged(survivors)
    finally:
        await cancel(tasks)

    records = await whole_topic(prepared, {f"purchase-{u}".encode() for u in users})
    copies = check_order(records)
    assert set(copies) == set(coins), "every row published"
    twice = {
        r["id"]
        for r in await pools["recharge"].fetch(
            "SELECT id FROM outbox WHERE event_id = ANY($1::uuid[])",
            [i for i, n in copies.items() if n > 1],
        )
    }
    assert twice <= died, "only the killed batch may go out twice"
    assert all(n <= 2 for n in copies.values())

    consumer = IdempotentConsumer(
        prepared, pools["gifting"], "test", [], GIFTING_HANDLERS, principal="gifting"
    )
    assert await consumer.apply(sorted(records, key=lambda r: (r.partition, r.offset))) == []
    balances = dict(
        await pools["gifting"].fetch(
            "SELECT user_id, balance FROM wallets WHERE user_id = ANY($1)", users
        )
    )
    assert balances == {u: sum(range(1, VERSIONS + 1)) for u in users}


async def test_a_relay_started_after_another_stopped_takes_every_shard(prepared):
    """What relay_all (one test after another) relies on: stop() returns once the server has
    ended the session, so its locks are free and its member lock no longer counts."""
    for _ in range(5):
        first = relay(prepared)
        await first.start()
        assert len(first.shards) == relay_shards.SHARDS
        await first.stop()
        second = relay(prepared)
        await second.start()
        try:
            assert len(second.shards) == relay_shards.SHARDS
        finally:
            await second.stop()
