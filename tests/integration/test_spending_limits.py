"""Spending controls through the gifting API (in-process ASGI, real PostgreSQL): a limit no
storm of concurrent spends can pass together, whatever they are (gifts, unlocks); lowering at
once and raising only after 24 hours by the app's clock; refusals naming the rule and the
reset; a self-exclusion; coin prices shown in the caller's money."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def timed(prepared):
    """(client, app): a test may set app.state.clock; it is put back to real time after."""
    holder = {}

    def make(settings):
        holder["app"] = create(settings)
        return holder["app"]

    async with api_client(make, prepared) as c:
        yield c, holder["app"]


@pytest.fixture
async def client(timed):
    client, app = timed
    real = app.state.clock
    yield client
    app.state.clock = real


async def known_creator(client, prepared) -> str:
    creator = new_id("star")
    r = await client.get("/v1/wallet", headers=auth(prepared, creator, roles=["creator"]))
    assert r.status_code == 200
    return creator


async def set_limits(client, prepared, fan, **body) -> dict:
    r = await client.put("/v1/spending-limits", json=body, headers=auth(prepared, fan))
    assert r.status_code == 200, r.text
    return r.json()


def gift(creator: str, coins: int = 10) -> dict:
    """`coins` roses (1 coin each) in one gift."""
    return {
        "creator_id": creator,
        "context": {"kind": "live", "id": "stream-limits"},
        "gift_code": "rose",
        "quantity": coins,
    }


def next_utc_midnight() -> str:
    now = datetime.now(UTC)
    return (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).isoformat()


async def test_fifty_concurrent_gifts_against_a_daily_limit_pass_exactly_up_to_it(
    client, prepared, pools
):
    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    await set_limits(client, prepared, fan, daily=100)

    responses = await asyncio.gather(
        *(
            client.post("/v1/gifts", json=gift(creator), headers=auth(prepared, fan))
            for _ in range(50)
        )
    )

    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(accepted) == 10, [r.text for r in refused[:1]]
    assert sorted(r.json()["balance_after"] for r in accepted) == list(range(900, 1000, 10))
    assert {(r.status_code, r.headers["content-type"]) for r in refused} == {
        (403, "application/problem+json")
    }
    body = refused[0].json()
    assert body["type"] == "https://coinstream.dev/problems/spending-limit-daily"
    assert (body["rule"], body["limit"], body["spent"]) == ("limit-daily", 100, 100)
    assert datetime.fromisoformat(body["resets_at"]) == datetime.fromisoformat(next_utc_midnight())
    db = pools["gifting"]
    assert await db.fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan) == 900
    windows = await db.fetch(
        "SELECT period, coins FROM spend_windows WHERE user_id = $1 ORDER BY period", fan
    )
    assert [(w["period"], w["coins"]) for w in windows] == [
        ("day", 100),
        ("month", 100),
        ("week", 100),
    ]
    # nothing recorded for a refusal: its key is free again
    keys = await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE caller = $1", fan)
    assert keys == 10 + 1  # the gifts and the PUT


async def test_gifts_and_unlocks_share_one_limit_under_concurrency(client, prepared, pools):
    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    items = [new_id("video") for _ in range(15)]
    for item in items:
        r = await client.put(
            "/v1/items",
            json={"item_id": item, "title": "Clip", "coins": 10},
            headers=auth(prepared, creator, roles=["creator"]),
        )
        assert r.status_code == 201, r.text
    await set_limits(client, prepared, fan, weekly=150)

    sends = [
        client.post("/v1/gifts", json=gift(creator), headers=auth(prepared, fan)) for _ in range(15)
    ] + [
        client.post("/v1/unlocks", json={"item_id": item, "coins": 10}, headers=auth(prepared, fan))
        for item in items
    ]
    responses = await asyncio.gather(*sends)

    assert sum(r.status_code == 201 for r in responses) == 15
    assert {r.json()["type"].rsplit("/", 1)[1] for r in responses if r.status_code != 201} == {
        "spending-limit-weekly"
    }
    db = pools["gifting"]
    spent = await db.fetchval(
        "SELECT -sum(delta) FROM wallet_ledger WHERE user_id = $1 AND delta < 0", fan
    )
    assert spent == 150


async def test_lowering_is_at_once_raising_waits_24_hours_by_the_apps_clock(
    timed, client, prepared, pools
):
    _, app = timed
    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    t0 = datetime.now(UTC)
    app.state.clock = lambda: t0

    await set_limits(client, prepared, fan, daily=50)
    r = await client.post("/v1/gifts", json=gift(creator, 30), headers=auth(prepared, fan))
    assert r.status_code == 201
    lowered = await set_limits(client, prepared, fan, daily=30)  # lower: in force now
    assert lowered["daily"] == {
        "coins": 30,
        "pending_coins": None,
        "pending_from": None,
        "spent": 30,
        "resets_at": lowered["daily"]["resets_at"],
    }
    r = await client.post("/v1/gifts", json=gift(creator, 1), headers=auth(prepared, fan))
    assert r.status_code == 403 and r.json()["limit"] == 30

    raised = await set_limits(client, prepared, fan, daily=200)  # higher: in 24 hours
    assert raised["daily"]["coins"] == 30 and raised["daily"]["pending_coins"] == 200
    assert datetime.fromisoformat(raised["daily"]["pending_from"]) == t0 + timedelta(hours=24)
    app.state.clock = lambda: t0 + timedelta(hours=23, minutes=59)
    r = await client.post("/v1/gifts", json=gift(creator, 1), headers=auth(prepared, fan))
    assert r.status_code == 403, r.text
    app.state.clock = lambda: t0 + timedelta(hours=24)
    shown = (await client.get("/v1/spending-limits", headers=auth(prepared, fan))).json()
    assert shown["daily"]["coins"] == 200 and shown["daily"]["pending_from"] is None
    # (the window is the database's calendar day, still today: 30 spent of 200)
    r = await client.post("/v1/gifts", json=gift(creator, 170), headers=auth(prepared, fan))
    assert r.status_code == 201, r.text
    r = await client.post("/v1/gifts", json=gift(creator, 1), headers=auth(prepared, fan))
    assert r.status_code == 403

    # removing the limit waits too
    removed = await set_limits(client, prepared, fan)
    assert removed["daily"]["coins"] == 200 and removed["daily"]["pending_coins"] is None
    assert removed["daily"]["pending_from"] is not None


async def test_self_exclusion_refuses_every_spend_until_its_end_and_ending_it_waits(
    timed, client, prepared, pools
):
    _, app = timed
    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 100)
    t0 = datetime.now(UTC)
    app.state.clock = lambda: t0
    until = (t0 + timedelta(days=7)).replace(microsecond=0)
    await set_limits(client, prepared, fan, self_excluded_until=until.isoformat())
    r = await client.post("/v1/gifts", json=gift(creator, 1), headers=auth(prepared, fan))
    assert r.status_code == 403
    body = r.json()
    assert body["type"].endswith("/self-excluded") and body["rule"] == "self-exclusion"
    assert datetime.fromisoformat(body["resets_at"]) == until

    ended = await set_limits(client, prepared, fan, self_excluded_until=None)
    assert datetime.fromisoformat(ended["self_exclusion"]["until"]) == until
    assert datetime.fromisoformat(ended["self_exclusion"]["pending_from"]) == t0 + timedelta(
        hours=24
    )
    r = await client.post("/v1/gifts", json=gift(creator, 1), headers=auth(prepared, fan))
    assert r.status_code == 403
    app.state.clock = lambda: t0 + timedelta(hours=24, seconds=1)
    r = await client.post("/v1/gifts", json=gift(creator, 1), headers=auth(prepared, fan))
    assert r.status_code == 201, r.text


async def test_a_change_is_recorded_as_an_event_and_a_retry_replays_it(client, prepared, pools):
    fan, key = new_id("fan"), str(uuid.uuid4())
    first = await client.put(
        "/v1/spending-limits", json={"monthly": 5000}, headers=auth(prepared, fan, key)
    )
    again = await client.put(
        "/v1/spending-limits", json={"monthly": 5000}, headers=auth(prepared, fan, key)
    )
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    events = await pools["gifting"].fetch(
        "SELECT e.event_type, e.version, e.envelope, o.key FROM events e JOIN outbox o"
        " USING (event_id) WHERE e.stream_id = $1",
        f"spending-{fan}",
    )
    assert [(e["event_type"], e["version"]) for e in events] == [("SpendingLimitsChanged", 1)]
    assert events[0]["envelope"]["data"]["monthly"]["coins"] == 5000
    other = await client.put(
        "/v1/spending-limits", json={"monthly": 10}, headers=auth(prepared, fan, key)
    )
    assert other.status_code == 409  # the same key with another body


@pytest.mark.parametrize(
    "body",
    [
        {"daily": -1},
        {"daily": 1.5},
        {"daily": "10"},
        {"weekly": 10**13},
        {"self_excluded_until": "tomorrow"},
        {"self_excluded_until": "2030-01-01T00:00:00"},  # no offset
        {"limit": 5},
    ],
)
async def test_a_malformed_change_is_a_422_and_changes_nothing(client, prepared, pools, body):
    fan = new_id("fan")
    r = await client.put("/v1/spending-limits", json=body, headers=auth(prepared, fan))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert (
        await pools["gifting"].fetchval(
            "SELECT count(*) FROM spending_controls WHERE user_id = $1", fan
        )
        == 0
    )


async def test_every_price_in_coins_comes_with_its_value_in_the_callers_money(
    client, prepared, pools
):
    catalog = (await client.get("/v1/gifts/catalog?country=JP")).json()
    galaxy = next(g for g in catalog["gifts"] if g["gift_code"] == "galaxy")
    assert galaxy["value"] == {"amount_minor": 2300, "currency": "JPY"}  # 1000 x 2.3 yen
    us = (await client.get("/v1/gifts/catalog?country=US")).json()
    rose = next(g for g in us["gifts"] if g["gift_code"] == "rose")
    assert rose["value"] == {"amount_minor": 1, "currency": "USD"}  # 1.43 cents -> 1

    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    r = await client.post(
        "/v1/gifts", json=gift(creator, 15), headers=auth(prepared, fan, country="GB")
    )
    assert r.status_code == 201, r.text
    assert r.json()["value"] == {"amount_minor": 21, "currency": "GBP"}  # 15 x 1.37 = 20.55

    item = new_id("video")
    r = await client.put(
        "/v1/items",
        json={"item_id": item, "title": "Clip", "coins": 300},
        headers=auth(prepared, creator, roles=["creator"]),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 300}, headers=auth(prepared, fan)
    )
    assert r.status_code == 201, r.text
    assert r.json()["value"] == {"amount_minor": 429, "currency": "USD"}
    listed = (await client.get("/v1/unlocks", headers=auth(prepared, fan))).json()
    assert [u["value"] for u in listed] == [{"amount_minor": 429, "currency": "USD"}]


async def test_a_spend_outside_the_batches_obeys_and_counts_in_the_same_limit(
    client, prepared, pools
):
    """spending.debit (subscriptions, tickets): ten concurrent 20-coin spends under a 100-coin
    daily limit, each in its own transaction -> exactly five; and they count for the gifts."""
    from services.gifting import spending
    from services.gifting.limits_errors import DailyLimitReached

    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    await set_limits(client, prepared, fan, daily=110)
    db = pools["gifting"]

    async def spend() -> str:
        try:
            async with db.acquire() as conn, conn.transaction():
                await spending.debit(conn, fan, 20, "subscription")
            return "spent"
        except DailyLimitReached:
            return "refused"

    outcomes = await asyncio.gather(*(spend() for _ in range(10)))
    assert sorted(outcomes) == ["refused"] * 5 + ["spent"] * 5
    assert await db.fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan) == 900
    r = await client.post("/v1/gifts", json=gift(creator, 11), headers=auth(prepared, fan))
    assert r.status_code == 403 and r.json()["spent"] == 100
    r = await client.post("/v1/gifts", json=gift(creator, 10), headers=auth(prepared, fan))
    assert r.status_code == 201


async def test_reconcile_finds_the_windows_and_controls_true_and_a_forged_count_wrong(
    client, prepared, pools
):
    from scripts import reconcile_spending

    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 100)
    await set_limits(client, prepared, fan, daily=50)
    await set_limits(client, prepared, fan, daily=80)  # pending
    r = await client.post("/v1/gifts", json=gift(creator, 20), headers=auth(prepared, fan))
    assert r.status_code == 201

    def mine(found: list[str]) -> list[str]:
        return [f for f in found if fan in f]

    async with pools["gifting"].acquire() as g:
        db = {"gifting": g}
        for check in reconcile_spending.CHECKS.values():
            checked, found = await check(db)
            assert checked >= 1 and mine(found) == []
        await g.execute(
            "UPDATE spend_windows SET coins = coins + 1 WHERE user_id = $1 AND period = 'day'",
            fan,
        )
        await g.execute("UPDATE spending_controls SET day_coins = 500 WHERE user_id = $1", fan)
        found = [f for c in reconcile_spending.CHECKS.values() for f in mine((await c(db))[1])]
    assert len(found) == 3, found  # periods differ, over the ledger, daily differs


async def test_the_controls_are_the_callers_own_a_missing_or_forged_token_is_a_401(
    client, prepared
):
    assert (await client.get("/v1/spending-limits")).status_code == 401
    forged = {"Authorization": "Bearer not.a.token", "Idempotency-Key": str(uuid.uuid4())}
    r = await client.put("/v1/spending-limits", json={"daily": 1}, headers=forged)
    assert r.status_code == 401
    fan = new_id("fan")
    await set_limits(client, prepared, fan, daily=7)
    other = (await client.get("/v1/spending-limits", headers=auth(prepared, new_id("fan")))).json()
    assert other["daily"]["coins"] is None and other["version"] == 0
    mine = (await client.get("/v1/spending-limits", headers=auth(prepared, fan))).json()
    assert mine["daily"]["coins"] == 7 and mine["version"] == 1
