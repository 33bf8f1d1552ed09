"""Poison on the bus: on every topic each command service consumes, ten kinds of bad message —
garbage bytes, valid JSON of an unknown type, a known type with a bad payload, a future schema
version, an envelope without its id or its time, and breaches of the CloudEvents Kafka binding
(binary mode, a content-type that is not structured CloudEvents JSON, a ce_* header that
contradicts the event, a Kafka key that is not the aggregateid) — each land in the dead-letter
topic with its reason, and the consumer goes on to apply the good events published after them
(one in the binding, one published before it, with no content-type). (The projections worker has its own poison test in
test_projections_worker.py; events that decode but PostgreSQL refuses: test_db_poison_mid_batch.py.)"""

import asyncio
import uuid

import orjson
import pytest

from eventkit.codec import encode, new_envelope
from eventkit.consumer import IdempotentConsumer
from eventkit.kafka import ADMIN, producer
from eventkit.signing import owner_headers
from schemas import headers as names
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.sanctions import PlaceTransactionBan
from services.gifting.__main__ import SPEC as GIFTING
from services.payout.__main__ import SPEC as PAYOUT
from services.recharge.__main__ import SPEC as RECHARGE
from tests.integration.test_plumbing import envelope as coin_purchased
from tests.support.creators import gift_sent
from tests.support.kafka import read_topic


def ban_command() -> Envelope:
    return new_envelope(
        "/test",
        PlaceTransactionBan(
            ban_id=f"mod-{uuid.uuid4()}",
            user_id=f"fan-{uuid.uuid4().hex[:8]}",
            scopes=["gift"],
            reason="poison test",
        ),
        aggregate_id="moderation",
        aggregate_version=1,
    )


# service -> (its consumer's spec, a good event it applies, the topic that event goes on)
CASES = {
    "gifting": (
        GIFTING,
        lambda: coin_purchased(f"fan-{uuid.uuid4().hex[:8]}"),
        topics.RECHARGE_EVENTS,
    ),
    "payout": (
        PAYOUT,
        lambda: gift_sent(f"creator-{uuid.uuid4().hex[:8]}", 10),
        topics.GIFTING_EVENTS,
    ),
    "recharge": (RECHARGE, ban_command, topics.MODERATION_COMMANDS),
}

# what the reason header must start with, for each kind of poison
EXPECTED = {
    "garbage": b"not JSON",
    "unknown type": b"unknown event type/version",
    "bad payload": b"bad CoinPurchased v1 payload",
    "future version": b"unknown event type/version",
    "no id": b"not a valid envelope: id: Field required",
    "no time": b"not a valid envelope: time: Field required",
    "binary mode": b"binding: binary content mode",
    "not structured": b"binding: content-type 'application/json'",
    "ce header contradicts": b"binding: header ce_type='GiftSent' does not match",
    "key not the aggregate": b"binding: the Kafka key",
}
STRUCTURED = (names.CONTENT_TYPE, names.STRUCTURED_CONTENT_TYPE.encode())


def binding_poisons(key: bytes) -> dict[str, tuple[bytes, list[tuple[str, bytes]]]]:
    """kind -> (value, its headers besides the signature): valid events keyed by their
    aggregate (`key`) whose binding alone is wrong, and one whose key is not its aggregate."""
    doc = orjson.loads(encode(coin_purchased("fan-poison")))

    def event(**changes) -> dict:
        return {**doc, "id": str(uuid.uuid4()), "aggregateid": key.decode(), **changes}

    binary = event()
    ce = [(f"ce_{k}", str(binary[k]).encode()) for k in ("specversion", "id", "type", "source")]
    return {
        "binary mode": (orjson.dumps(binary["data"]), ce),  # binary mode's value is the data
        "not structured": (orjson.dumps(event()), [(names.CONTENT_TYPE, b"application/json")]),
        "ce header contradicts": (orjson.dumps(event()), [STRUCTURED, ("ce_type", b"GiftSent")]),
        "key not the aggregate": (orjson.dumps(event(aggregateid="elsewhere")), [STRUCTURED]),
    }


def signature(settings, topic: str, value: bytes, key: bytes) -> list[tuple[str, bytes]]:
    return [h for h in owner_headers(settings, topic, value, key) if h[0] != names.CONTENT_TYPE]


def poisons() -> dict[str, bytes]:
    doc = orjson.loads(encode(coin_purchased("fan-poison")))
    return {
        "garbage": b"\xff\xfe not json at all",
        "unknown type": orjson.dumps({**doc, "type": "CoinsMinted", "id": str(uuid.uuid4())}),
        "bad payload": orjson.dumps(
            {**doc, "id": str(uuid.uuid4()), "data": {**doc["data"], "coins": -5}}
        ),
        "future version": orjson.dumps({**doc, "id": str(uuid.uuid4()), "dataversion": 99}),
        # consumers dedupe on the id and date effects with the time: never made up for them
        "no id": orjson.dumps({k: v for k, v in doc.items() if k != "id"}),
        "no time": orjson.dumps(
            {k: v for k, v in {**doc, "id": str(uuid.uuid4())}.items() if k != "time"}
        ),
    }


@pytest.mark.parametrize("service", list(CASES))
async def test_every_kind_of_poison_on_every_consumed_topic_is_dead_lettered(namespace, service):
    settings = await namespace(f"p{service[:3]}")  # own topics: the DLQ holds only this test's
    spec, good_event, good_topic = CASES[service]
    run = uuid.uuid4().hex[:8]
    sent: dict[bytes, tuple[str, str]] = {}  # key -> (topic, kind)
    good, before_binding = good_event(), good_event()
    p = producer(settings, ADMIN)  # one producer for every topic's publisher
    await p.start()
    try:
        for topic in spec.consumed_topics:
            for kind, value in poisons().items():
                key = f"{run}|{topic}|{kind}".encode()
                sent[key] = (topic, kind)
                # Signed by the topic's owner: what is under test is the payload.
                headers = owner_headers(settings, topic, value, key)
                await p.send_and_wait(settings.topic(topic), value, key=key, headers=headers)
            for kind in binding_poisons(b""):
                key = f"{run}|{topic}|{kind.replace(' ', '-')}".encode()  # an aggregate id
                sent[key] = (topic, kind)
                value, binding = binding_poisons(key)[kind]
                headers = signature(settings, topic, value, key) + binding
                await p.send_and_wait(settings.topic(topic), value, key=key, headers=headers)
        for event, binding in ((before_binding, []), (good, [STRUCTURED])):
            value, key = encode(event), event.aggregateid.encode()
            headers = signature(settings, good_topic, value, key) + binding
            await p.send_and_wait(settings.topic(good_topic), value, key=key, headers=headers)
    finally:
        await p.stop()

    from eventkit.db import create_pool

    pool = await create_pool(settings.database_for(spec.name))
    consumer = IdempotentConsumer(
        settings,
        pool,
        f"{settings.db_prefix}-{spec.name}",
        spec.consumed_topics,
        spec.handlers,
        principal=spec.name,
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(150):
            if (
                await pool.fetchval(
                    "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])",
                    [good.id, before_binding.id],
                )
                == 2
            ):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{service}: the good events after the poison were not applied")
        dead = await read_topic(settings, topics.DEAD_LETTER, expect=len(sent))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()

    landed = {r.key: dict(r.headers) for r in dead if r.key in sent}
    assert set(landed) == set(sent), f"missing in the DLQ: {set(sent) - set(landed)}"
    for key, headers in landed.items():
        topic, kind = sent[key]
        assert headers["reason"].startswith(EXPECTED[kind]), (kind, headers["reason"])
        assert headers["topic"] == settings.topic(topic).encode()
        assert headers["consumer"] == f"{settings.db_prefix}-{spec.name}".encode()
    assert len(dead) == len(sent), "the good event must not be dead-lettered"


async def test_a_ban_command_without_an_id_is_dead_lettered_not_applied(namespace):
    settings = await namespace("pnoid")
    command = orjson.loads(encode(ban_command()))
    del command["id"]
    good = ban_command()
    p = producer(settings, "moderation")
    await p.start()
    try:
        key = good.aggregateid.encode()  # both: one partition, the id-less one first
        for value in (orjson.dumps(command), encode(good)):
            headers = owner_headers(settings, topics.MODERATION_COMMANDS, value, key)
            await p.send_and_wait(
                settings.topic(topics.MODERATION_COMMANDS), value, key=key, headers=headers
            )
    finally:
        await p.stop()

    from eventkit.db import create_pool

    pool = await create_pool(settings.database_for(RECHARGE.name))
    consumer = IdempotentConsumer(
        settings,
        pool,
        f"{settings.db_prefix}-recharge",
        RECHARGE.consumed_topics,
        RECHARGE.handlers,
        principal="recharge",
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(150):
            if await pool.fetchval(
                "SELECT count(*) FROM processed_events WHERE event_id = $1", good.id
            ):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the good command after the id-less one was not applied")
        dead = await read_topic(settings, topics.DEAD_LETTER, expect=1)
        placed = {r["user_id"] for r in await pool.fetch("SELECT user_id FROM bans")}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert placed == {good.data["user_id"]}  # the id-less command placed nothing
    assert [dict(r.headers)["reason"] for r in dead] == [
        b"not a valid envelope: id: Field required"
    ]
