"""The gifting API over HTTP (in-process ASGI) against real PostgreSQL."""

import asyncio
import uuid

import pytest

from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


def gift_body(creator: str, code: str = "galaxy", quantity: int = 1) -> dict:
    return {"creator_id": creator, "context": {"kind": "live", "id": "stream-1"},
            "gift_code": code, "quantity": quantity}


async def balance(client, settings, user) -> int:
    r = await client.get("/v1/wallet", headers=auth(settings, user))
    return r.json()["balance"]


async def test_gift_worth_more_than_the_balance_is_refused_with_a_problem(client, prepared, pools):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 999)
    r = await client.post("/v1/gifts", json=gift_body(new_id("cr")), headers=auth(prepared, fan))
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/insufficient-coins") and r.json()["balance"] == 999
    assert await balance(client, prepared, fan) == 999
    assert await pools["gifting"].fetchval(
        "SELECT count(*) FROM events WHERE stream_id = $1", f"wallet-{fan}") == 0


async def test_accepted_gift_debits_and_writes_event_and_outbox_together(client, prepared, pools):
    fan, creator = new_id("fan"), new_id("cr")
    await fund_wallet(pools["gifting"], fan, 1500)
    r = await client.post("/v1/gifts", json=gift_body(creator, "finger_heart", 3),
                          headers=auth(prepared, fan))
    assert r.status_code == 201, r.text
    assert r.json()["coins"] == 15 and r.json()["balance_after"] == 1485
    row = await pools["gifting"].fetchrow(
        "SELECT e.envelope, o.key FROM events e JOIN outbox o USING (event_id)"
        " WHERE e.event_id = $1", uuid.UUID(r.json()["event_id"]))
    assert row["key"] == f"wallet-{fan}"
    data = row["envelope"]["data"]
    assert (data["creator_id"], data["coins"], data["diamonds_per_coin"]) == (creator, 15, "1")


async def test_100_concurrent_gifts_of_the_whole_balance_exactly_one_succeeds(
        client, prepared, pools):
    fan, creator, b = new_id("fan"), new_id("cr"), 1000
    await fund_wallet(pools["gifting"], fan, b)
    replies = await asyncio.gather(*[
        client.post("/v1/gifts", json=gift_body(creator, "galaxy"), headers=auth(prepared, fan))
        for _ in range(100)])
    codes = sorted(r.status_code for r in replies)
    assert codes == [201] + [409] * 99
    assert await balance(client, prepared, fan) == 0


async def test_mixed_concurrent_spends_never_overdraw(client, prepared, pools):
    fan, creator, b = new_id("fan"), new_id("cr"), 3000
    await fund_wallet(pools["gifting"], fan, b)
    bodies = [gift_body(creator, code, q) for code, q in
              [("galaxy", 1), ("finger_heart", 40), ("rose", 150), ("galaxy", 2)] * 10]
    replies = await asyncio.gather(*[
        client.post("/v1/gifts", json=body, headers=auth(prepared, fan)) for body in bodies])
    accepted = sum(r.json()["coins"] for r in replies if r.status_code == 201)
    assert {r.status_code for r in replies} <= {201, 409}
    final = await balance(client, prepared, fan)
    assert final >= 0 and accepted == b - final


async def test_retry_with_same_key_replays_and_debits_once(client, prepared, pools):
    fan, creator = new_id("fan"), new_id("cr")
    await fund_wallet(pools["gifting"], fan, 100)
    headers = auth(prepared, fan, key="retry-me")
    first, *retries = await asyncio.gather(*[
        client.post("/v1/gifts", json=gift_body(creator, "rose", 10), headers=headers)
        for _ in range(5)])
    assert all(r.json() == first.json() for r in retries)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in [first, *retries]) == 4
    assert await balance(client, prepared, fan) == 90
    other = await client.post("/v1/gifts", json=gift_body(creator, "rose", 11), headers=headers)
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")


@pytest.mark.parametrize("change, status, problem", [
    ({"gift_code": "unicorn"}, 404, "gift-not-found"),
    ({"quantity": 0}, 422, "validation-error"),
    ({"quantity": -3}, 422, "validation-error"),
    ({"context": {"kind": "dm", "id": "x"}}, 422, "validation-error"),
    ({"surprise": 1}, 422, "validation-error"),
])
async def test_bad_gift_input_gets_a_typed_problem(client, prepared, pools, change, status,
                                                   problem):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 50)
    r = await client.post("/v1/gifts", json={**gift_body(new_id("cr"), "rose"), **change},
                          headers=auth(prepared, fan))
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (status, problem)
    assert await balance(client, prepared, fan) == 50


async def test_refusals_need_no_wallet_change(client, prepared, pools):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 50)
    cases = [
        (auth(prepared, fan), gift_body(fan, "rose"), 422, "self-gift"),
        (auth(prepared, fan, birthdate="2015-01-01"), gift_body("x", "rose"), 403, "not-eligible"),
        (auth(prepared, fan, country="KP"), gift_body("x", "rose"), 403, "not-eligible"),
        ({"Idempotency-Key": "k"}, gift_body("x", "rose"), 401, "unauthorized"),
        ({"Authorization": "Bearer nonsense", "Idempotency-Key": "k"}, gift_body("x", "rose"),
         401, "unauthorized"),
        ({k: v for k, v in auth(prepared, fan).items() if k != "Idempotency-Key"},
         gift_body("x", "rose"), 428, "idempotency-key-required"),
    ]
    for headers, body, status, problem in cases:
        r = await client.post("/v1/gifts", json=body, headers=headers)
        assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (status, problem), r.text
    r = await client.post("/v1/gifts", content=b"{not json", headers={
        **auth(prepared, fan), "content-type": "application/json"})
    assert r.status_code == 422
    assert await balance(client, prepared, fan) == 50
