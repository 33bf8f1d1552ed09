"""A gift storm through the gifting API (in-process ASGI, real PostgreSQL): 500 gifts fired at
once by 50 fans at one creator, each fan asking for more than their balance covers."""

import asyncio
import uuid

import pytest

from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet

FANS, GIFTS_PER_FAN = 50, 10


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def test_storm_accepts_exactly_what_each_fan_can_afford_and_records_it_once(
    client, prepared, pools
):
    creator = new_id("star")
    r = await client.get("/v1/wallet", headers=auth(prepared, creator, roles=["creator"]))
    assert r.status_code == 200
    stream = new_id("live")
    fans = [new_id("fan") for _ in range(FANS)]
    # fan i sends 10 gifts of (i % 5 + 1) roses each and holds enough for 3 to 7 of them
    quantity = {fan: i % 5 + 1 for i, fan in enumerate(fans)}
    affordable = {fan: 3 + i % 5 for i, fan in enumerate(fans)}
    for fan in fans:
        await fund_wallet(
            pools["gifting"], fan, quantity[fan] * affordable[fan] + quantity[fan] - 1
        )

    def body(fan):
        return {
            "creator_id": creator,
            "context": {"kind": "live", "id": stream},
            "gift_code": "rose",
            "quantity": quantity[fan],
        }

    sends = [(fan, str(uuid.uuid4())) for _ in range(GIFTS_PER_FAN) for fan in fans]
    responses = await asyncio.gather(
        *(
            client.post("/v1/gifts", json=body(fan), headers=auth(prepared, fan, key))
            for fan, key in sends
        )
    )

    assert {r.status_code for r in responses} <= {201, 409}
    refused = [r for r in responses if r.status_code == 409]
    assert all(
        r.headers["content-type"] == "application/problem+json"
        and r.json()["type"].endswith("/insufficient-coins")
        for r in refused
    )
    by_fan: dict[str, list[dict]] = {fan: [] for fan in fans}
    for (fan, _), r in zip(sends, responses, strict=True):
        if r.status_code == 201:
            by_fan[fan].append(r.json())
    db = pools["gifting"]
    for fan in fans:
        accepted = sorted(by_fan[fan], key=lambda g: -g["balance_after"])
        funded = quantity[fan] * affordable[fan] + quantity[fan] - 1
        assert len(accepted) == affordable[fan], fan
        # each accepted gift saw the balance the previous one left
        assert [g["balance_after"] for g in accepted] == [
            funded - quantity[fan] * n for n in range(1, affordable[fan] + 1)
        ]
        # one combo, counted by quantity, every gift once
        assert len({g["combo_id"] for g in accepted}) == 1
        assert [g["combo_count"] for g in accepted] == [
            quantity[fan] * n for n in range(1, affordable[fan] + 1)
        ]
        ledger = await db.fetch(
            "SELECT event_id, delta, balance_after FROM wallet_ledger"
            " WHERE user_id = $1 AND kind = 'gift' ORDER BY entry_id",
            fan,
        )
        assert [(str(e["event_id"]), -e["delta"], e["balance_after"]) for e in ledger] == [
            (g["event_id"], g["coins"], g["balance_after"]) for g in accepted
        ]
        events = await db.fetch(
            "SELECT e.event_id, e.version, e.envelope, o.id AS outbox_id FROM events e"
            " JOIN outbox o USING (event_id) WHERE e.stream_id = $1 ORDER BY e.version",
            f"wallet-{fan}",
        )
        assert [str(e["event_id"]) for e in events] == [g["event_id"] for g in accepted]
        assert [e["envelope"]["data"]["balance_after"] for e in events] == [
            g["balance_after"] for g in accepted
        ]
        outbox_order = [e["outbox_id"] for e in events]
        assert outbox_order == sorted(outbox_order), "outbox rows must follow wallet versions"
        assert (
            await db.fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan)
            == quantity[fan] - 1
        )
    accepted_keys = {
        key for (fan, key), r in zip(sends, responses, strict=True) if r.status_code == 201
    }
    stored = await db.fetch(
        "SELECT key, status_code FROM idempotency_keys WHERE caller = ANY($1::text[])", fans
    )
    assert {s["key"] for s in stored} == accepted_keys  # refused keys were released
    assert {s["status_code"] for s in stored} == {201}
    # group commit: the accepted gifts were written by far fewer transactions than gifts
    transactions = await db.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM wallet_ledger WHERE user_id = ANY($1::text[])"
        " AND kind = 'gift'",
        fans,
    )
    assert transactions < len(accepted_keys) / 4, (transactions, len(accepted_keys))


async def test_a_key_replayed_during_the_storm_returns_the_stored_answer(client, prepared, pools):
    fan, creator = new_id("fan"), new_id("star")
    await client.get("/v1/wallet", headers=auth(prepared, creator, roles=["creator"]))
    await fund_wallet(pools["gifting"], fan, 100)
    body = {
        "creator_id": creator,
        "context": {"kind": "live", "id": "s"},
        "gift_code": "rose",
        "quantity": 1,
    }
    key = str(uuid.uuid4())
    first = await asyncio.gather(
        *(client.post("/v1/gifts", json=body, headers=auth(prepared, fan, key)) for _ in range(20))
    )
    assert {r.status_code for r in first} == {201}
    assert len({r.json()["event_id"] for r in first}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in first) == 19
    other = dict(body, quantity=2)
    r = await client.post("/v1/gifts", json=other, headers=auth(prepared, fan, key))
    assert r.status_code == 409 and r.json()["type"].endswith("/idempotency-key-reused")
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan) == 99
    )
