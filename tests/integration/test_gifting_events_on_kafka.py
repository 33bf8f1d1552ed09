"""What gifting publishes, read back from Kafka (its own namespace: the relay drains the whole
outbox): GiftSent, ItemListed and ContentUnlocked, each once, keyed by its aggregate, in the
order of its stream."""

import pytest

from eventkit.codec import decode
from eventkit.db import create_pool
from schemas import topics
from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.kafka import read_topic, relay_all
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def gk(namespace):
    settings = await namespace("gk")
    pool = await create_pool(settings.database_for("gifting"))
    async with api_client(create, settings) as client:
        yield settings, client, pool
    await pool.close()


async def test_gifts_listings_and_unlocks_reach_kafka_once_keyed_by_aggregate(gk):
    settings, client, pool = gk
    fan, creator = new_id("fan"), new_id("cr")
    assert (
        await client.get("/v1/wallet", headers=auth(settings, creator, roles=["creator"]))
    ).status_code == 200
    await fund_wallet(pool, fan, 2000)
    gift = {
        "creator_id": creator,
        "context": {"kind": "live", "id": "s1"},
        "gift_code": "rose",
        "quantity": 3,
    }
    sent = [
        (await client.post("/v1/gifts", json=gift, headers=auth(settings, fan))).json()
        for _ in range(2)
    ]
    item = new_id("item")
    assert (
        await client.put(
            "/v1/items",
            json={"item_id": item, "title": "Backstage", "coins": 300},
            headers=auth(settings, creator, roles=["creator"]),
        )
    ).status_code < 300
    unlocked = (
        await client.post(
            "/v1/unlocks", json={"item_id": item, "coins": 300}, headers=auth(settings, fan)
        )
    ).json()

    await relay_all(settings, "gifting")
    expected = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1", topics.GIFTING_EVENTS
    )
    on_kafka = [
        (r.key.decode(), decode(r.value)[0])
        for r in await read_topic(settings, topics.GIFTING_EVENTS, expect=expected)
    ]
    by_id = {str(env.id): (key, env) for key, env in on_kafka}
    assert len(by_id) == len(on_kafka) == expected  # each once
    gifts = [by_id[s["event_id"]] if s["event_id"] in by_id else None for s in sent]
    assert all(g and g[1].type == "GiftSent" and g[0] == f"wallet-{fan}" for g in gifts)
    versions = [g[1].aggregateversion for g in gifts]
    fan_stream = [env.aggregateversion for key, env in on_kafka if key == f"wallet-{fan}"]
    assert fan_stream == sorted(fan_stream) and versions == sorted(versions)
    assert [env.data["combo_count"] for _, env in gifts] == [3, 6]
    assert any(env.type == "ItemListed" and env.data["item_id"] == item for _, env in on_kafka)
    unlocks = [
        env
        for key, env in on_kafka
        if env.type == "ContentUnlocked" and env.data["unlock_id"] == unlocked["unlock_id"]
    ]
    assert [(key_of(on_kafka, u), u.data["item_id"], u.data["coins"]) for u in unlocks] == [
        (f"wallet-{fan}", item, 300)
    ]


def key_of(records, env) -> str:
    return next(key for key, e in records if e.id == env.id)
