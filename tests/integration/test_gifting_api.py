"""The gifting API over HTTP (in-process ASGI) against real PostgreSQL."""

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from eventkit.codec import new_envelope
from eventkit.settings import Settings
from policy.eligibility import load_policy
from schemas.events.accounts import AccountProfileUpdated
from schemas.events.recharge import CoinsClawedBack
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from schemas.money import Money
from services.gifting.api import create
from services.gifting.handlers import HANDLERS
from services.recharge.api import create as recharge_app
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import coin_purchased, fund_wallet


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def creator(client, settings, **claims) -> str:
    """A creator gifting knows of: signing in once registers the verified profile."""
    user = new_id("cr")
    r = await client.get("/v1/wallet", headers=auth(settings, user, roles=["creator"], **claims))
    assert r.status_code == 200
    return user


def gift_body(creator_id: str, code: str = "galaxy", quantity: int = 1, stream="stream-1"):
    return {
        "creator_id": creator_id,
        "context": {"kind": "live", "id": stream},
        "gift_code": code,
        "quantity": quantity,
    }


async def balance(client, settings, user) -> int:
    r = await client.get("/v1/wallet", headers=auth(settings, user))
    return r.json()["balance"]


def problem(r) -> tuple[int, str]:
    return r.status_code, r.json()["type"].rsplit("/", 1)[1]


async def apply_event(pools, payload, subject: str):
    env = new_envelope(
        "/test", payload, aggregate_id=f"test-{uuid.uuid4()}", aggregate_version=1, subject=subject
    )
    async with pools["gifting"].acquire() as conn, conn.transaction():
        await HANDLERS[env.type](conn, env, payload)


async def test_gift_worth_more_than_the_balance_is_refused_with_a_problem(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 999)
    r = await client.post("/v1/gifts", json=gift_body(cr), headers=auth(prepared, fan))
    assert problem(r) == (409, "insufficient-coins")
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["balance"] == 999
    assert await balance(client, prepared, fan) == 999
    assert (
        await pools["gifting"].fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1", f"wallet-{fan}"
        )
        == 0
    )


async def test_accepted_gift_debits_and_writes_event_and_outbox_together(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 1500)
    r = await client.post(
        "/v1/gifts", json=gift_body(cr, "finger_heart", 3), headers=auth(prepared, fan)
    )
    assert r.status_code == 201, r.text
    assert r.json()["coins"] == 15 and r.json()["balance_after"] == 1485
    row = await pools["gifting"].fetchrow(
        "SELECT e.envelope, o.key FROM events e JOIN outbox o USING (event_id)"
        " WHERE e.event_id = $1",
        uuid.UUID(r.json()["event_id"]),
    )
    assert row["key"] == f"wallet-{fan}"
    data = row["envelope"]["data"]
    assert (
        data["recipients"],
        data["coins"],
        data["diamonds_per_coin"],
        data["commission_rate"],
        data["rates_version"],
    ) == ([{"creator_id": cr, "share_bp": 10_000}], 15, "1", "0.5", 1)


async def test_100_concurrent_gifts_of_the_whole_balance_exactly_one_succeeds(
    client, prepared, pools
):
    fan, cr, b = new_id("fan"), await creator(client, prepared), 1000
    await fund_wallet(pools["gifting"], fan, b)
    replies = await asyncio.gather(
        *[
            client.post("/v1/gifts", json=gift_body(cr, "galaxy"), headers=auth(prepared, fan))
            for _ in range(100)
        ]
    )
    assert sorted(r.status_code for r in replies) == [201] + [409] * 99
    assert await balance(client, prepared, fan) == 0


async def test_mixed_concurrent_gifts_and_unlocks_never_overdraw(client, prepared, pools):
    fan, cr, b = new_id("fan"), await creator(client, prepared), 3000
    await fund_wallet(pools["gifting"], fan, b)
    items = []
    for n in range(10):
        item = new_id("item")
        r = await client.put(
            "/v1/items",
            json={"item_id": item, "title": f"t{n}", "coins": 250},
            headers=auth(prepared, cr, roles=["creator"]),
        )
        assert r.status_code == 201, r.text
        items.append(item)
    calls = [
        client.post("/v1/gifts", json=gift_body(cr, code, q), headers=auth(prepared, fan))
        for code, q in [("galaxy", 1), ("finger_heart", 40), ("rose", 150)] * 8
    ]
    calls += [
        client.post("/v1/unlocks", json={"item_id": i, "coins": 250}, headers=auth(prepared, fan))
        for i in items + items
    ]  # each item twice: the second never charges
    replies = await asyncio.gather(*calls)
    assert {r.status_code for r in replies} <= {200, 201, 409}
    accepted = sum(r.json()["coins"] for r in replies if r.status_code == 201)
    final = await balance(client, prepared, fan)
    assert final >= 0 and accepted == b - final
    ledger = await pools["gifting"].fetchval(
        "SELECT sum(delta) FROM wallet_ledger WHERE user_id = $1", fan
    )
    assert ledger == final


async def test_retry_with_same_key_replays_and_debits_once(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 100)
    headers = auth(prepared, fan, key="retry-me")
    first, *retries = await asyncio.gather(
        *[
            client.post("/v1/gifts", json=gift_body(cr, "rose", 10), headers=headers)
            for _ in range(5)
        ]
    )
    assert all(r.json() == first.json() for r in retries)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in [first, *retries]) == 4
    assert await balance(client, prepared, fan) == 90
    other = await client.post("/v1/gifts", json=gift_body(cr, "rose", 11), headers=headers)
    assert problem(other) == (409, "idempotency-key-reused")


async def test_replayed_coin_purchase_credits_once(pools):
    fan = new_id("fan")
    env, payload = coin_purchased(fan, 700)
    for _ in range(3):
        async with pools["gifting"].acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO processed_events (event_id, topic) VALUES ($1, 't')"
                " ON CONFLICT DO NOTHING RETURNING true",
                env.id,
            )
            if fresh:
                await HANDLERS["CoinPurchased"](conn, env, payload)
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan)
        == 700
    )


async def test_combo_shares_id_and_counts_within_the_window(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 100)
    seen = []
    for q in (1, 4, 5):
        r = await client.post(
            "/v1/gifts", json=gift_body(cr, "rose", q), headers=auth(prepared, fan)
        )
        seen.append((r.json()["combo_id"], r.json()["combo_count"]))
    assert len({c for c, _ in seen}) == 1 and [n for _, n in seen] == [1, 5, 10]
    other = await client.post(
        "/v1/gifts", json=gift_body(cr, "finger_heart"), headers=auth(prepared, fan)
    )
    assert other.json()["combo_id"] != seen[0][0] and other.json()["combo_count"] == 1
    await pools["gifting"].execute(
        "UPDATE combos SET last_at = last_at - interval '1 hour' WHERE sender_id = $1", fan
    )
    later = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
    assert later.json()["combo_id"] != seen[0][0] and later.json()["combo_count"] == 1


async def test_concurrent_gifts_of_one_combo_count_1_to_n_under_one_combo_id(
    client, prepared, pools
):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 20)
    replies = await asyncio.gather(
        *(
            client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
            for _ in range(20)
        )
    )
    assert [r.status_code for r in replies] == [201] * 20
    bodies = [r.json() for r in replies]
    assert len({b["combo_id"] for b in bodies}) == 1
    assert sorted(b["combo_count"] for b in bodies) == list(range(1, 21))
    assert sorted(b["balance_after"] for b in bodies) == list(range(0, 20))
    assert await balance(client, prepared, fan) == 0


async def test_unlock_is_idempotent_per_user_and_item(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 1000)
    item = new_id("video")
    await client.put(
        "/v1/items",
        json={"item_id": item, "title": "Backstage", "coins": 300},
        headers=auth(prepared, cr, roles=["creator"]),
    )
    replies = await asyncio.gather(
        *[
            client.post(
                "/v1/unlocks", json={"item_id": item, "coins": 300}, headers=auth(prepared, fan)
            )
            for _ in range(10)
        ]
    )
    assert sorted(r.status_code for r in replies) == [200] * 9 + [201]
    assert len({r.json()["unlock_id"] for r in replies}) == 1
    assert await balance(client, prepared, fan) == 700
    listed = await client.get("/v1/unlocks", headers=auth(prepared, fan))
    assert [u["item_id"] for u in listed.json()] == [item]
    event = await pools["gifting"].fetchval(
        "SELECT envelope FROM events WHERE event_type = 'ContentUnlocked' AND stream_id = $1",
        f"wallet-{fan}",
    )
    assert event["data"]["owner_id"] == cr and event["data"]["coins"] == 300


async def test_items_belong_to_their_owner_and_platform_items_need_admin(client, prepared):
    cr, other = await creator(client, prepared), await creator(client, prepared)
    item = new_id("video")
    body = {"item_id": item, "title": "x", "coins": 5}
    assert (
        await client.put("/v1/items", json=body, headers=auth(prepared, cr, roles=["creator"]))
    ).status_code == 201
    assert problem(
        await client.put("/v1/items", json=body, headers=auth(prepared, other, roles=["creator"]))
    ) == (409, "item-exists")
    assert problem(
        await client.put(
            "/v1/items",
            json={**body, "item_id": new_id("p"), "platform": True},
            headers=auth(prepared, cr, roles=["creator"]),
        )
    ) == (403, "forbidden")
    assert problem(
        await client.put(
            "/v1/items",
            json={**body, "item_id": new_id("f")},
            headers=auth(prepared, new_id("fan")),
        )
    ) == (403, "forbidden")
    assert problem(
        await client.post(
            "/v1/unlocks",
            json={"item_id": "nope", "coins": 5},
            headers=auth(prepared, new_id("fan")),
        )
    ) == (404, "item-not-found")


async def test_retried_item_listing_replays_and_bumps_the_version_once(client, prepared, pools):
    cr, item = await creator(client, prepared), new_id("video")
    body = {"item_id": item, "title": "Backstage", "coins": 300}
    headers = auth(prepared, cr, key="list-me", roles=["creator"])
    first, *retries = [await client.put("/v1/items", json=body, headers=headers) for _ in range(3)]
    assert first.status_code == 201 and first.json()["version"] == 1
    assert all(r.status_code == 201 and r.json() == first.json() for r in retries)
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in retries)
    assert problem(await client.put("/v1/items", json={**body, "coins": 400}, headers=headers)) == (
        409,
        "idempotency-key-reused",
    )
    no_key = {k: v for k, v in headers.items() if k != "Idempotency-Key"}
    assert problem(await client.put("/v1/items", json={**body, "coins": 500}, headers=no_key)) == (
        400,
        "idempotency-key-required",
    )
    repriced = await client.put(
        "/v1/items", json={**body, "coins": 350}, headers=auth(prepared, cr, roles=["creator"])
    )
    assert repriced.status_code == 201 and repriced.json()["version"] == 2
    assert (await client.get(f"/v1/items/{item}")).json()["coins"] == 350
    assert await pools["gifting"].fetchval(
        "SELECT array_agg(version ORDER BY version) FROM events WHERE stream_id = $1",
        f"item-{item}",
    ) == [1, 2]


async def test_unlocks_refuse_items_of_an_owner_banned_from_receiving(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 1000)
    item = new_id("video")
    assert (
        await client.put(
            "/v1/items",
            json={"item_id": item, "title": "x", "coins": 300},
            headers=auth(prepared, cr, roles=["creator"]),
        )
    ).status_code == 201

    async def unlock():
        return await client.post(
            "/v1/unlocks", json={"item_id": item, "coins": 300}, headers=auth(prepared, fan)
        )

    for n, scope in enumerate(["receive", "account"]):
        await apply_event(
            pools,
            TransactionBanPlaced(
                ban_id=f"u{n}-{cr}", user_id=cr, scopes=[scope], reason="fraud", source="moderation"
            ),
            cr,
        )
        assert problem(await unlock()) == (403, "recipient-not-eligible")
        await apply_event(
            pools,
            TransactionBanLifted(ban_id=f"u{n}-{cr}", user_id=cr, reason="appeal", source="admin"),
            cr,
        )
    assert await balance(client, prepared, fan) == 1000
    assert (
        await pools["gifting"].fetchval("SELECT count(*) FROM unlocks WHERE user_id = $1", fan) == 0
    )
    assert (
        await pools["gifting"].fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1", f"wallet-{fan}"
        )
        == 0
    )
    assert (await unlock()).status_code == 201
    assert await balance(client, prepared, fan) == 700


async def test_platform_items_have_no_owner_to_ban(client, prepared, pools):
    fan, admin, item = new_id("fan"), new_id("admin"), new_id("feature")
    await fund_wallet(pools["gifting"], fan, 100)
    assert (
        await client.put(
            "/v1/items",
            json={"item_id": item, "title": "x", "coins": 60, "platform": True},
            headers=auth(prepared, admin, roles=["admin"]),
        )
    ).status_code == 201
    ban = new_id("platform-ban")  # a ban naming the pseudo-owner itself changes nothing
    await apply_event(
        pools,
        TransactionBanPlaced(
            ban_id=ban, user_id="platform", scopes=["receive"], reason="x", source="admin"
        ),
        "x",
    )
    try:
        r = await client.post(
            "/v1/unlocks", json={"item_id": item, "coins": 60}, headers=auth(prepared, fan)
        )
        assert r.status_code == 201, r.text
    finally:
        await apply_event(
            pools,
            TransactionBanLifted(ban_id=ban, user_id="platform", reason="x", source="admin"),
            "x",
        )
    assert await balance(client, prepared, fan) == 40


async def test_clawback_after_spending_leaves_a_negative_balance_that_cannot_spend(
    client, prepared, pools
):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 1000)
    assert (
        await client.post("/v1/gifts", json=gift_body(cr, "galaxy"), headers=auth(prepared, fan))
    ).status_code == 201
    usd = Money(amount_minor=999, currency="USD")
    await apply_event(
        pools,
        CoinsClawedBack(
            purchase_id="p",
            user_id=fan,
            coins=1000,
            reason_code="chargeback",
            provider="test",
            provider_txn_id="t",
            settlement=usd,
        ),
        fan,
    )
    assert await balance(client, prepared, fan) == -1000
    r = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
    assert problem(r) == (409, "insufficient-coins")
    await fund_wallet(pools["gifting"], fan, 1001)
    r = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
    assert r.status_code == 201 and r.json()["balance_after"] == 0


async def test_bans_block_sending_and_receiving_until_lifted_or_expired(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 100)

    async def send():
        return await client.post(
            "/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan)
        )

    await apply_event(
        pools,
        TransactionBanPlaced(
            ban_id="b1-" + fan, user_id=fan, scopes=["gift"], reason="spam", source="admin"
        ),
        fan,
    )
    assert problem(await send()) == (403, "transaction-banned")
    await apply_event(
        pools,
        TransactionBanLifted(ban_id="b1-" + fan, user_id=fan, reason="appeal", source="admin"),
        fan,
    )
    assert (await send()).status_code == 201
    await apply_event(
        pools,
        TransactionBanPlaced(
            ban_id="b2-" + cr,
            user_id=cr,
            scopes=["receive"],
            reason="fraud",
            source="moderation",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        ),
        cr,
    )
    assert problem(await send()) == (403, "recipient-not-eligible")
    await pools["gifting"].execute(
        "UPDATE bans SET expires_at = now() - interval '1 second' WHERE ban_id = $1", "b2-" + cr
    )
    assert (await send()).status_code == 201
    await apply_event(
        pools,
        TransactionBanPlaced(
            ban_id="b3-" + fan, user_id=fan, scopes=["account"], reason="tos", source="admin"
        ),
        fan,
    )
    assert problem(await send()) == (403, "transaction-banned")
    assert await balance(client, prepared, fan) == 98


async def test_lift_arriving_before_its_ban_keeps_the_ban_lifted(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 10)
    await apply_event(
        pools,
        TransactionBanLifted(ban_id="late-" + fan, user_id=fan, reason="x", source="admin"),
        fan,
    )
    await apply_event(
        pools,
        TransactionBanPlaced(
            ban_id="late-" + fan, user_id=fan, scopes=["gift"], reason="x", source="admin"
        ),
        fan,
    )
    r = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
    assert r.status_code == 201


async def test_recipient_rules(client, prepared, pools):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 100)
    minor = await creator(client, prepared, birthdate="2012-05-05")
    official = await creator(client, prepared, account_type="government")
    japan_19 = await creator(
        client, prepared, country="JP", birthdate=f"{datetime.now().year - 19}-01-01"
    )
    for recipient in (minor, official, japan_19):
        r = await client.post(
            "/v1/gifts", json=gift_body(recipient, "rose"), headers=auth(prepared, fan)
        )
        assert problem(r) == (403, "recipient-not-eligible"), recipient
    # A creator gifting has never seen is not there to receive: 404, not a refusal of the body.
    r = await client.post(
        "/v1/gifts", json=gift_body(new_id("stranger"), "rose"), headers=auth(prepared, fan)
    )
    assert problem(r) == (404, "recipient-not-found")
    assert await balance(client, prepared, fan) == 100


async def test_region_limited_gift(client, prepared, pools):
    cr = await creator(client, prepared)
    us_fan, ca_fan = new_id("fan"), new_id("fan")
    for fan in (us_fan, ca_fan):
        await fund_wallet(pools["gifting"], fan, 100)
    r = await client.post(
        "/v1/gifts", json=gift_body(cr, "maple_leaf"), headers=auth(prepared, us_fan)
    )
    assert problem(r) == (404, "gift-not-found")
    r = await client.post(
        "/v1/gifts", json=gift_body(cr, "maple_leaf"), headers=auth(prepared, ca_fan, country="CA")
    )
    assert r.status_code == 201
    us = (await client.get("/v1/gifts/catalog?country=US")).json()
    ca = (await client.get("/v1/gifts/catalog?country=CA")).json()
    assert "maple_leaf" not in {g["gift_code"] for g in us["gifts"]}
    assert "maple_leaf" in {g["gift_code"] for g in ca["gifts"]}


async def test_statement_pages_newest_first_with_event_ids(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 50)
    for _ in range(4):
        await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
    page1 = (await client.get("/v1/wallet/statement?limit=3", headers=auth(prepared, fan))).json()
    page2 = (
        await client.get(
            f"/v1/wallet/statement?limit=3&before={page1['next_before']}",
            headers=auth(prepared, fan),
        )
    ).json()
    entries = page1["entries"] + page2["entries"]
    assert [e["balance_after"] for e in entries] == [46, 47, 48, 49, 50]
    assert [e["kind"] for e in entries] == ["gift"] * 4 + ["purchase"]
    assert page2["next_before"] is None and all(uuid.UUID(e["event_id"]) for e in entries)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"gift_code": "unicorn"}, (404, "gift-not-found")),
        ({"quantity": 0}, (422, "validation-error")),
        ({"quantity": -3}, (422, "validation-error")),
        ({"quantity": 10**9}, (422, "validation-error")),
        ({"context": {"kind": "dm", "id": "x"}}, (422, "validation-error")),
        ({"surprise": 1}, (422, "validation-error")),
    ],
)
async def test_bad_gift_input_gets_a_typed_problem(client, prepared, pools, change, expected):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 50)
    r = await client.post(
        "/v1/gifts",
        json={**gift_body(await creator(client, prepared), "rose"), **change},
        headers=auth(prepared, fan),
    )
    assert problem(r) == expected
    assert await balance(client, prepared, fan) == 50


async def test_refusals_change_nothing(client, prepared, pools):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 50)
    cr = await creator(client, prepared)
    cases = [
        (auth(prepared, fan), gift_body(fan, "rose"), (403, "self-gift")),
        (auth(prepared, fan, birthdate="2015-01-01"), gift_body(cr, "rose"), (403, "not-eligible")),
        (auth(prepared, fan, country="KP"), gift_body(cr, "rose"), (403, "not-eligible")),
        ({"Idempotency-Key": "k"}, gift_body(cr, "rose"), (401, "unauthorized")),
        (
            {"Authorization": "Bearer nonsense", "Idempotency-Key": "k"},
            gift_body(cr, "rose"),
            (401, "unauthorized"),
        ),
        (
            {k: v for k, v in auth(prepared, fan).items() if k != "Idempotency-Key"},
            gift_body(cr, "rose"),
            (400, "idempotency-key-required"),
        ),
    ]
    for headers, body, expected in cases:
        assert problem(await client.post("/v1/gifts", json=body, headers=headers)) == expected
    r = await client.post(
        "/v1/gifts",
        content=b"{not json",
        headers={**auth(prepared, fan), "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = await client.post(
        "/v1/gifts",
        content=b"x" * 100_000,
        headers={**auth(prepared, fan), "content-type": "application/json"},
    )
    assert problem(r) == (413, "payload-too-large")
    assert await balance(client, prepared, fan) == 50


# --- issue 11: unlocks and listings follow the recipient rules; price guards; strict input ---


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def list_item(client, settings, owner, coins=300, item=None, **claims):
    item = item or new_id("video")
    r = await client.put(
        "/v1/items",
        json={"item_id": item, "title": "Backstage", "coins": coins},
        headers=auth(settings, owner, roles=["creator"], **claims),
    )
    return item, r


async def wallet_untouched(client, settings, pools, fan, coins):
    assert await balance(client, settings, fan) == coins
    assert (
        await pools["gifting"].fetchval("SELECT count(*) FROM unlocks WHERE user_id = $1", fan) == 0
    )
    assert (
        await pools["gifting"].fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1", f"wallet-{fan}"
        )
        == 0
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"birthdate": "2012-05-05"},
        {"account_type": "government"},
        {"country": "KP"},
        {"country": "KR", "birthdate": f"{datetime.now(UTC).year - 18}-01-01"},
    ],
)
async def test_only_an_eligible_recipient_may_list_items_for_sale(client, prepared, pools, claims):
    cr = new_id("cr")
    item, r = await list_item(client, prepared, cr, **claims)
    assert problem(r) == (403, "seller-not-eligible"), r.text
    assert (await client.get(f"/v1/items/{item}")).status_code == 404


async def test_a_creator_banned_from_receiving_may_not_list(client, prepared, pools):
    cr = await creator(client, prepared)
    await apply_event(
        pools,
        TransactionBanPlaced(
            ban_id=f"l-{cr}", user_id=cr, scopes=["receive"], reason="fraud", source="admin"
        ),
        cr,
    )
    _, r = await list_item(client, prepared, cr)
    assert problem(r) == (403, "seller-not-eligible")


async def test_unlocks_refuse_an_owner_who_could_not_receive_a_gift(client, prepared, pools):
    fan, cr = new_id("fan"), new_id("cr")
    await fund_wallet(pools["gifting"], fan, 1000)
    item, r = await list_item(client, prepared, cr)
    assert r.status_code == 201, r.text
    # The owner's profile since listing: a minor (the profile from the accounts topic).
    await apply_event(
        pools,
        AccountProfileUpdated(
            user_id=cr,
            country="US",
            birthdate=years_before(date.today(), 15),
            account_type="creator",
        ),
        cr,
    )
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 300}, headers=auth(prepared, fan)
    )
    assert problem(r) == (403, "recipient-not-eligible")
    assert "owner" in r.json()["detail"]
    await wallet_untouched(client, prepared, pools, fan, 1000)
    await apply_event(
        pools,
        AccountProfileUpdated(
            user_id=cr, country="US", birthdate=date(1990, 1, 1), account_type="government"
        ),
        cr,
    )
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 300}, headers=auth(prepared, fan)
    )
    assert problem(r) == (403, "recipient-not-eligible")
    await wallet_untouched(client, prepared, pools, fan, 1000)


async def test_an_owner_cannot_unlock_their_own_item(client, prepared, pools):
    cr = new_id("cr")
    await fund_wallet(pools["gifting"], cr, 1000)
    item, r = await list_item(client, prepared, cr)
    assert r.status_code == 201
    r = await client.post(
        "/v1/unlocks",
        json={"item_id": item, "coins": 300},
        headers=auth(prepared, cr, roles=["creator"]),
    )
    assert problem(r) == (403, "self-unlock")
    await wallet_untouched(client, prepared, pools, cr, 1000)


async def test_an_unlock_is_charged_only_the_price_it_names(client, prepared, pools):
    fan, cr = new_id("fan"), new_id("cr")
    await fund_wallet(pools["gifting"], fan, 1000)
    item, r = await list_item(client, prepared, cr, coins=5)
    assert r.status_code == 201
    shown = (await client.get(f"/v1/items/{item}")).json()["coins"]
    _, r = await list_item(client, prepared, cr, coins=150, item=item)  # re-priced meanwhile
    assert r.status_code == 201 and r.json()["version"] == 2
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": shown}, headers=auth(prepared, fan)
    )
    assert problem(r) == (409, "price-changed") and r.json()["coins"] == 150
    await wallet_untouched(client, prepared, pools, fan, 1000)
    for body in (
        {"item_id": item},
        {"item_id": item, "coins": "150"},
        {"item_id": item, "coins": 150.5},
        {"item_id": item, "coins": True},
        {"item_id": item, "coins": 0},
    ):
        r = await client.post("/v1/unlocks", json=body, headers=auth(prepared, fan))
        assert problem(r) == (422, "validation-error"), body
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 150}, headers=auth(prepared, fan)
    )
    assert r.status_code == 201 and r.json()["balance_after"] == 850
    # Already unlocked: answered with the original, whatever price is named now.
    again = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 5}, headers=auth(prepared, fan)
    )
    assert again.status_code == 200 and again.json()["already_unlocked"]


async def test_a_gift_names_the_catalog_version_it_was_shown(client, prepared, pools):
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 100)
    version = (await client.get("/v1/gifts/catalog?country=US")).json()["version"]
    r = await client.post(
        "/v1/gifts",
        json={**gift_body(cr, "rose"), "catalog_version": version - 1},
        headers=auth(prepared, fan),
    )
    assert problem(r) == (409, "price-changed") and r.json()["catalog_version"] == version
    assert await balance(client, prepared, fan) == 100
    r = await client.post(
        "/v1/gifts",
        json={**gift_body(cr, "rose"), "catalog_version": version},
        headers=auth(prepared, fan),
    )
    assert r.status_code == 201 and r.json()["balance_after"] == 99
    r = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=auth(prepared, fan))
    assert r.status_code == 201  # optional: a client that does not send it keeps working


async def test_platform_items_have_no_owner_id_in_giftings_tables(client, prepared, pools):
    admin, item = new_id("admin"), new_id("feature")
    body = {"item_id": item, "title": "x", "coins": 60, "platform": True}
    r = await client.put("/v1/items", json=body, headers=auth(prepared, admin, roles=["admin"]))
    assert r.status_code == 201 and r.json()["owner_id"] == "platform" and r.json()["platform"]
    row = await pools["gifting"].fetchrow(
        "SELECT owner_id, platform FROM items WHERE item_id = $1", item
    )
    assert (row["owner_id"], row["platform"]) == (None, True)
    # Nobody's own listing can take it over, an admin's included; the platform re-prices it.
    for who, roles in ((new_id("cr"), ["creator"]), (admin, ["admin"])):
        r = await client.put(
            "/v1/items", json={**body, "platform": False}, headers=auth(prepared, who, roles=roles)
        )
        assert problem(r) == (409, "item-exists"), who
    r = await client.put(
        "/v1/items",
        json={**body, "coins": 70},
        headers=auth(prepared, new_id("admin"), roles=["admin"]),
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    got = (await client.get(f"/v1/items/{item}")).json()
    assert (got["owner_id"], got["platform"], got["coins"]) == ("platform", True, 70)


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": "2"},
        {"quantity": 2.5},
        {"quantity": True},
        {"catalog_version": "2"},
        {"catalog_version": True},
        {"catalog_version": 2.5},
        {"creator_id": ""},
        {"creator_id": "a b"},
        {"creator_id": "platform"},
        {"creator_id": "x\u0000y"},
        {"gift_code": "rose\u0000"},
        {"gift_code": ""},
        {"context": {"kind": "live", "id": ""}},
        {"context": {"kind": "live", "id": "s\u0000"}},
    ],
)
async def test_gift_fields_are_strict_and_never_hold_nul_or_empty_ids(
    client, prepared, pools, change
):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 50)
    r = await client.post(
        "/v1/gifts",
        json={**gift_body(await creator(client, prepared), "rose"), **change},
        headers=auth(prepared, fan),
    )
    assert problem(r) == (422, "validation-error"), change
    assert await balance(client, prepared, fan) == 50


async def test_whole_numbers_written_with_a_point_are_integers(client, prepared, pools):
    """JSON Schema's `integer` includes 2.0: the document says integer, so 2.0 is taken as 2."""
    fan, cr = new_id("fan"), await creator(client, prepared)
    await fund_wallet(pools["gifting"], fan, 50)
    r = await client.post(
        "/v1/gifts",
        json={**gift_body(cr, "rose"), "quantity": 2.0, "catalog_version": 2.0},
        headers=auth(prepared, fan),
    )
    assert r.status_code == 201, r.text
    assert r.json()["coins"] == 2 and r.json()["balance_after"] == 48
    item, _ = await list_item(client, prepared, cr)
    r = await client.put(
        "/v1/items",
        json={"item_id": item, "title": "t", "coins": 40.0},
        headers=auth(prepared, cr, roles=["creator"]),
    )
    assert r.status_code == 201 and r.json()["coins"] == 40, r.text
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 40.0}, headers=auth(prepared, fan)
    )
    assert r.status_code == 201 and r.json()["balance_after"] == 8, r.text


@pytest.mark.parametrize(
    "change",
    [
        {"coins": "5"},
        {"coins": 5.5},
        {"coins": True},
        {"platform": "true"},
        {"platform": 1},
        {"title": "x\u0000"},
        {"title": ""},
        {"title": "   "},
        {"item_id": ""},
        {"item_id": "a\u0000"},
    ],
)
async def test_item_fields_are_strict_and_never_hold_nul(client, prepared, change):
    cr = new_id("cr")
    r = await client.put(
        "/v1/items",
        json={"item_id": new_id("v"), "title": "t", "coins": 5, **change},
        headers=auth(prepared, cr, roles=["creator", "admin"]),
    )
    assert problem(r) == (422, "validation-error"), change


async def test_item_ids_in_paths_and_unlocks_are_ids(client, prepared):
    assert problem(await client.get("/v1/items/a%00b")) == (422, "validation-error")
    for item_id in ("", "a\u0000b", "a b"):
        r = await client.post(
            "/v1/unlocks",
            json={"item_id": item_id, "coins": 5},
            headers=auth(prepared, new_id("fan")),
        )
        assert problem(r) == (422, "validation-error"), item_id


@pytest.mark.parametrize(
    "country, expected",
    [
        ("CN", (422, "country-not-served")),
        ("KP", (422, "country-not-served")),
        ("NC", (422, "country-not-served")),
        ("usa", (422, "validation-error")),
        ("us", (422, "validation-error")),
        ("", (422, "validation-error")),
    ],
)
async def test_gift_catalog_validates_countries_like_recharge(client, country, expected):
    assert problem(await client.get(f"/v1/gifts/catalog?country={country}")) == expected


def test_the_catalog_country_is_documented_as_the_served_countries():
    """The document lists the codes answered (both catalogs, one type): a client or fuzzer that
    keeps to it never meets country-not-served."""
    served = sorted(load_policy().enabled_countries)
    gifting = create(Settings()).openapi()["paths"]["/v1/gifts/catalog"]["get"]
    [country] = [p for p in gifting["parameters"] if p["name"] == "country"]
    assert country["schema"]["enum"] == served and "NC" not in served
    coins = recharge_app(Settings()).openapi()["paths"]["/v1/catalog"]["get"]
    [country] = [p for p in coins["parameters"] if p["name"] == "country"]
    assert country["schema"]["anyOf"][0]["enum"] == served


# --- age on the local calendar day, through the API, with the app's clock set ---------------


@pytest.fixture(scope="module")
async def timed(prepared):
    """(client, app) whose clock a test sets: app.state.clock = lambda: <aware datetime>."""
    holder = {}

    def make(settings):
        holder["app"] = create(settings)
        return holder["app"]

    async with api_client(make, prepared) as c:
        yield c, holder["app"]


async def test_age_is_judged_on_the_local_day_in_the_country_whose_law_applies(
    timed, prepared, pools
):
    client, app = timed
    today = datetime.now(UTC).date()
    cr = await creator(client, prepared)
    # 19:00 UTC today is 04:00 tomorrow in Seoul: a Korean born 19 years before tomorrow is 19.
    app.state.clock = lambda: datetime.combine(today, time(19), UTC)
    try:
        kr_fan = new_id("fan")
        await fund_wallet(pools["gifting"], kr_fan, 10)
        kr_born = years_before(today + timedelta(days=1), 19).isoformat()

        def kr():  # a fresh Idempotency-Key each time
            return auth(prepared, kr_fan, country="KR", birthdate=kr_born)

        r = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=kr())
        assert r.status_code == 201, r.text
        # 07:00 UTC is still yesterday everywhere in the US: 18 today (UTC) is not 18 there yet.
        app.state.clock = lambda: datetime.combine(today, time(7), UTC)
        us_fan = new_id("fan")
        await fund_wallet(pools["gifting"], us_fan, 10)
        us = auth(prepared, us_fan, country="US", birthdate=years_before(today, 18).isoformat())
        r = await client.post("/v1/gifts", json=gift_body(cr, "rose"), headers=us)
        assert problem(r) == (403, "not-eligible")
        # The same rule for a recipient: a US creator turning 18 today (UTC) is not 18 yet.
        young = await creator(
            client, prepared, country="US", birthdate=years_before(today, 18).isoformat()
        )
        adult = new_id("fan")
        await fund_wallet(pools["gifting"], adult, 10)
        r = await client.post(
            "/v1/gifts", json=gift_body(young, "rose"), headers=auth(prepared, adult)
        )
        assert problem(r) == (403, "recipient-not-eligible")
        app.state.clock = lambda: datetime.combine(today, time(12), UTC)  # also there now
        r = await client.post(
            "/v1/gifts", json=gift_body(young, "rose"), headers=auth(prepared, adult)
        )
        assert r.status_code == 201, r.text
    finally:
        app.state.clock = lambda: datetime.now(UTC)


@pytest.mark.parametrize(
    "query",
    [
        "limit=5.0",
        "limit=0",
        "limit=%205",
        "before=0.5",
        "before=abc",
        "before=0",
        "before=1000000000000000000",
    ],
)
async def test_statement_paging_parameters_are_plain_whole_numbers(client, prepared, query):
    r = await client.get(f"/v1/wallet/statement?{query}", headers=auth(prepared, new_id("fan")))
    assert problem(r) == (422, "validation-error"), query


async def test_statement_takes_every_before_the_document_allows(client, prepared):
    """The document's maximum for `before` is one query_int reads (at most 18 digits)."""
    spec = create(Settings()).openapi()["paths"]["/v1/wallet/statement"]["get"]
    [before] = [p for p in spec["parameters"] if p["name"] == "before"]
    top = before["schema"]["anyOf"][0]["maximum"]
    r = await client.get(
        f"/v1/wallet/statement?before={top}", headers=auth(prepared, new_id("fan"))
    )
    assert r.status_code == 200, r.text


def test_every_bound_in_the_document_is_a_json_schema_keyword():
    """A bound pydantic cannot express prints as an unknown key ("gt"), which a client and
    schemathesis ignore: the handler would refuse values the document allows."""
    text = str(create(Settings()).openapi())
    for key in ("'gt'", "'ge'", "'lt'", "'le'"):
        assert key not in text, key
    item = create(Settings()).openapi()["components"]["schemas"]["ItemCreate"]["properties"]
    assert (item["coins"]["exclusiveMinimum"], item["coins"]["maximum"]) == (0, 1_000_000)
