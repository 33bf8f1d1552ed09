"""Subscriptions through the gifting API (in-process ASGI, real PostgreSQL) and the renewal
worker's function, with a test clock: subscribe (twice: the same one), cancel, gift N months
all or nothing, renewal racing spends of the same coins, grace then lapse, a banned creator,
and a worker killed between its claim and its commit."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import encode, new_envelope
from schemas.envelope import Envelope
from schemas.events.sanctions import TransactionBanPlaced
from services.gifting.api import create
from services.gifting.handlers import on_ban_placed
from services.gifting.subscription_renewals import renew_due
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import consume
from tests.support.wallets import fund_wallet

PRICE = 300
T0 = datetime(2031, 1, 10, 12, tzinfo=UTC)  # a test clock far from the real one: rows of other
DAY = timedelta(days=1)  # tests are never due at our instants, and ours never at theirs


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clock():
    return Clock(T0)


@pytest.fixture
async def client(prepared, clock):
    app_clock = clock

    def factory(settings):
        app = create(settings)
        app.state.clock = app_clock
        return app

    async with api_client(factory, prepared) as c:
        yield c


async def creator_with_price(client, settings, coins=PRICE) -> str:
    creator = new_id("star")
    r = await client.put(
        f"/v1/creators/{creator}/subscription-price",
        json={"coins": coins},
        headers=auth(settings, creator, roles=["creator"]),
    )
    assert r.status_code == 200, r.text
    return creator


async def subscribe(client, settings, fan, creator, coins=PRICE, key=None):
    return await client.post(
        "/v1/subscriptions",
        json={"creator_id": creator, "coins": coins},
        headers=auth(settings, fan, key),
    )


async def balance(pools, user) -> int:
    return await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", user)


async def sub_row(pools, fan, creator):
    return await pools["gifting"].fetchrow(
        "SELECT * FROM subscriptions WHERE fan_id = $1 AND creator_id = $2"
        " ORDER BY created_at DESC LIMIT 1",
        fan,
        creator,
    )


async def events_of(pools, event_type, field, value):
    rows = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE event_type = $1 AND envelope->'data'->>$2 = $3",
        event_type,
        field,
        value,
    )
    return [
        r["envelope"] if isinstance(r["envelope"], dict) else json.loads(r["envelope"])
        for r in rows
    ]


async def test_subscribe_twice_gives_the_existing_subscription_charged_once(
    client, prepared, pools
):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    first, second = await asyncio.gather(
        subscribe(client, prepared, fan, creator), subscribe(client, prepared, fan, creator)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
    assert first.json()["subscription_id"] == second.json()["subscription_id"]
    again = await subscribe(client, prepared, fan, creator)
    assert again.status_code == 200
    assert again.json()["subscription_id"] == first.json()["subscription_id"]
    assert await balance(pools, fan) == 1000 - PRICE
    body = again.json()
    assert body["entitled"] and body["months"] == 1 and body["tier"] == "bronze"
    started = await events_of(pools, "SubscriptionStarted", "fan_id", fan)
    assert len(started) == 1
    data = started[0]["data"]
    assert data["coins"] == PRICE and data["balance_after"] == 1000 - PRICE
    assert data["creator_share"] == "0.5" and data["rates_version"] == 1


async def test_refusals_are_typed_and_charge_nothing(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, PRICE - 1)
    r = await subscribe(client, prepared, fan, creator)
    assert r.status_code == 409 and r.json()["type"].endswith("/insufficient-coins")
    r = await subscribe(client, prepared, fan, creator, coins=PRICE + 1)
    assert r.status_code == 409 and r.json()["type"].endswith("/price-changed")
    r = await subscribe(client, prepared, fan, new_id("nobody"))
    assert r.status_code == 404 and r.json()["type"].endswith("/subscription-not-offered")
    r = await subscribe(client, prepared, creator, creator)
    assert r.status_code == 403 and r.json()["type"].endswith("/self-subscription")
    r = await client.put(
        f"/v1/creators/{creator}/subscription-price",
        json={"coins": 1},
        headers=auth(prepared, creator, roles=["creator"]),
    )
    assert r.status_code == 422  # below the platform's minimum
    minor = new_id("kid")
    await fund_wallet(pools["gifting"], minor, 1000)
    r = await client.post(
        "/v1/subscriptions",
        json={"creator_id": creator, "coins": PRICE},
        headers=auth(prepared, minor, birthdate="2020-01-01"),
    )
    assert r.status_code == 403 and r.json()["type"].endswith("/not-eligible")
    assert await balance(pools, fan) == PRICE - 1
    assert await balance(pools, minor) == 1000
    assert await sub_row(pools, fan, creator) is None


async def test_a_banned_fan_cannot_subscribe(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    await ban(pools, fan, ["gift"])
    r = await subscribe(client, prepared, fan, creator)
    assert r.status_code == 403 and r.json()["type"].endswith("/transaction-banned")
    assert await balance(pools, fan) == 1000


async def ban(pools, user, scopes):
    ban = TransactionBanPlaced(
        ban_id=new_id("ban"), user_id=user, scopes=scopes, reason="test", source="admin"
    )
    env = new_envelope("/test", ban, aggregate_id=f"ban-{ban.ban_id}", aggregate_version=1)
    async with pools["gifting"].acquire() as conn, conn.transaction():
        await on_ban_placed(conn, env, ban)


async def test_renewal_then_cancel_then_lapse(client, prepared, pools, clock):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 3 * PRICE)
    sub = (await subscribe(client, prepared, fan, creator)).json()
    end1 = datetime.fromisoformat(sub["period_end"])
    # Before its period ends nothing happens to it (other tests' rows may be due: the count of
    # the whole run is not this subscription's).
    await renew_due(pools["gifting"], end1 - timedelta(seconds=1))
    assert (await sub_row(pools, fan, creator))["period"] == 1
    assert await balance(pools, fan) == 2 * PRICE
    await renew_due(pools["gifting"], end1 + timedelta(hours=1))
    row = await sub_row(pools, fan, creator)
    assert row["period"] == 2 and row["period_start"] == end1  # no drift: starts at the end
    assert await balance(pools, fan) == PRICE
    await renew_due(pools["gifting"], end1 + timedelta(hours=2))  # the same period again: no
    assert (await sub_row(pools, fan, creator))["period"] == 2
    assert await balance(pools, fan) == PRICE

    clock.now = end1 + DAY
    r = await client.delete(
        f"/v1/subscriptions/{sub['subscription_id']}", headers=auth(prepared, fan)
    )
    assert r.status_code == 200 and r.json()["auto_renew"] is False and r.json()["entitled"]
    await renew_due(pools["gifting"], row["period_end"] + timedelta(hours=1))
    row = await sub_row(pools, fan, creator)
    assert row["status"] == "ended" and row["ended_reason"] == "cancelled"
    assert await balance(pools, fan) == PRICE  # no renewal after the cancel, no refund
    renewed = await events_of(pools, "SubscriptionRenewed", "fan_id", fan)
    assert [e["data"]["period"] for e in renewed] == [2]
    assert renewed[0]["data"]["entitlement"] == {"months": 2, "tier": "bronze"}
    lapsed = await events_of(pools, "SubscriptionLapsed", "fan_id", fan)
    assert [e["data"]["reason"] for e in lapsed] == ["cancelled"]
    # Subscribing again counts the months already paid.
    clock.now = row["period_end"] + DAY
    again = await subscribe(client, prepared, fan, creator)
    assert again.status_code == 201 and again.json()["months"] == 3
    assert again.json()["tier"] == "silver"


async def test_short_balance_grace_retries_then_lapse(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, PRICE + 10)
    sub = (await subscribe(client, prepared, fan, creator)).json()
    end = datetime.fromisoformat(sub["period_end"])
    await renew_due(pools["gifting"], end + timedelta(minutes=1))
    row = await sub_row(pools, fan, creator)
    assert row["status"] == "grace" and row["grace_until"] == end + 3 * DAY
    assert row["attempts"] == 1
    await renew_due(pools["gifting"], end + DAY)
    assert (await sub_row(pools, fan, creator))["attempts"] == 2
    failed = await events_of(pools, "SubscriptionRenewalFailed", "fan_id", fan)
    assert len(failed) == 2 and all(e["data"]["balance"] == 10 for e in failed)
    await renew_due(pools["gifting"], end + 3 * DAY)
    row = await sub_row(pools, fan, creator)
    assert row["status"] == "ended" and row["ended_reason"] == "grace-expired"
    assert await balance(pools, fan) == 10


async def test_grace_ends_when_the_wallet_is_topped_up(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, PRICE)
    sub = (await subscribe(client, prepared, fan, creator)).json()
    end = datetime.fromisoformat(sub["period_end"])
    await renew_due(pools["gifting"], end + timedelta(minutes=1))
    assert (await sub_row(pools, fan, creator))["status"] == "grace"
    await fund_wallet(pools["gifting"], fan, PRICE)
    await renew_due(pools["gifting"], end + 2 * DAY)
    row = await sub_row(pools, fan, creator)
    assert row["status"] == "active" and row["period"] == 2 and row["grace_until"] is None
    assert row["period_start"] == end + 2 * DAY  # the grace days were not paid for
    assert await balance(pools, fan) == 0


async def test_a_banned_creators_subscriptions_stop_renewing(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 5 * PRICE)
    sub = (await subscribe(client, prepared, fan, creator)).json()
    await ban(pools, creator, ["receive"])
    await renew_due(pools["gifting"], datetime.fromisoformat(sub["period_end"]) + DAY)
    row = await sub_row(pools, fan, creator)
    assert row["status"] == "ended" and row["ended_reason"] == "creator-banned"
    assert await balance(pools, fan) == 4 * PRICE


async def test_renewal_racing_spends_of_the_same_coins_never_overdraws(client, prepared, pools):
    """Each fan holds exactly one renewal's worth; the renewal worker and an unlock of an
    item of that price race for it. Exactly one of them wins per fan; no balance goes below 0."""
    creator = await creator_with_price(client, prepared)
    r = await client.put(
        "/v1/items",
        json={"item_id": new_id("video"), "title": "clip", "coins": PRICE},
        headers=auth(prepared, creator, roles=["creator"]),
    )
    item = r.json()["item_id"]
    fans = [new_id("fan") for _ in range(20)]
    ends = []
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 2 * PRICE)
        ends.append(
            datetime.fromisoformat(
                (await subscribe(client, prepared, fan, creator)).json()["period_end"]
            )
        )
    due = max(ends) + timedelta(minutes=1)
    unlocks = [
        client.post(
            "/v1/unlocks", json={"item_id": item, "coins": PRICE}, headers=auth(prepared, f)
        )
        for f in fans
    ]
    results = await asyncio.gather(
        renew_due(pools["gifting"], due), renew_due(pools["gifting"], due), *unlocks
    )
    answers = results[2:]
    assert {a.status_code for a in answers} <= {201, 409}
    for fan, answer in zip(fans, answers, strict=True):
        row = await sub_row(pools, fan, creator)
        renewed = row["period"] == 2
        assert renewed != (answer.status_code == 201), (fan, row["status"], answer.text)
        assert await balance(pools, fan) == 0
    ledger = await pools["gifting"].fetch(
        "SELECT user_id, sum(delta) AS total FROM wallet_ledger WHERE user_id = ANY($1)"
        " GROUP BY user_id",
        fans,
    )
    assert {r["total"] for r in ledger} == {0}


async def test_a_worker_killed_between_claim_and_commit_renews_each_once(client, prepared, pools):
    """The first worker claims a subscription, renews it inside its transaction, and dies
    before committing (the transaction aborts, as a SIGKILLed process's would); the next run
    renews every subscription exactly once for the period, and a further run none again."""
    creator = await creator_with_price(client, prepared)
    fans = [new_id("fan") for _ in range(5)]
    ends = []
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 4 * PRICE)
        ends.append(
            datetime.fromisoformat(
                (await subscribe(client, prepared, fan, creator)).json()["period_end"]
            )
        )
    due = max(ends) + timedelta(minutes=1)

    class Killed(Exception):
        pass

    seen = []

    async def die_after_two(row):
        seen.append(row["subscription_id"])
        if len(seen) == 2:
            raise Killed

    with pytest.raises(Killed):
        await renew_due(pools["gifting"], due, pause=die_after_two)
    await renew_due(pools["gifting"], due)
    await renew_due(pools["gifting"], due + timedelta(hours=1))
    for fan in fans:
        row = await sub_row(pools, fan, creator)
        assert row["period"] == 2, fan
        assert await balance(pools, fan) == 2 * PRICE
        periods = await pools["gifting"].fetch(
            "SELECT period FROM subscription_periods WHERE subscription_id = $1 ORDER BY period",
            row["subscription_id"],
        )
        assert [p["period"] for p in periods] == [1, 2]


async def test_gifted_subscriptions_are_all_or_nothing(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    gifter = new_id("fan")
    await fund_wallet(pools["gifting"], gifter, 10 * PRICE)
    viewers = [new_id("viewer") for _ in range(3)]
    for v in viewers:  # each becomes known to gifting by signing in once
        await client.get("/v1/wallet", headers=auth(prepared, v))
    subscribed = viewers[1]
    await fund_wallet(pools["gifting"], subscribed, PRICE)
    assert (await subscribe(client, prepared, subscribed, creator)).status_code == 201

    body = {"creator_id": creator, "coins": PRICE, "recipients": viewers, "stream_id": "s-1"}
    r = await client.post("/v1/subscription-gifts", json=body, headers=auth(prepared, gifter))
    assert r.status_code == 409 and r.json()["type"].endswith("/already-subscribed"), r.text
    assert await balance(pools, gifter) == 10 * PRICE
    assert await sub_row(pools, viewers[0], creator) is None

    unknown = {**body, "recipients": [viewers[0], new_id("ghost")]}
    r = await client.post("/v1/subscription-gifts", json=unknown, headers=auth(prepared, gifter))
    assert r.status_code == 404
    mine = {**body, "recipients": [viewers[0], gifter]}
    r = await client.post("/v1/subscription-gifts", json=mine, headers=auth(prepared, gifter))
    assert r.status_code == 403 and r.json()["type"].endswith("/self-subscription")
    twice = {**body, "recipients": [viewers[0], viewers[0]]}
    r = await client.post("/v1/subscription-gifts", json=twice, headers=auth(prepared, gifter))
    assert r.status_code == 422

    ok = {**body, "recipients": [viewers[0], viewers[2]]}
    key = new_id("key")
    r = await client.post("/v1/subscription-gifts", json=ok, headers=auth(prepared, gifter, key))
    assert r.status_code == 201, r.text
    replay = await client.post(
        "/v1/subscription-gifts", json=ok, headers=auth(prepared, gifter, key)
    )
    assert replay.status_code == 201 and replay.json() == r.json()
    assert await balance(pools, gifter) == 8 * PRICE
    assert {s["fan_id"] for s in r.json()["subscriptions"]} == {viewers[0], viewers[2]}
    assert all(s["gifted"] and not s["auto_renew"] for s in r.json()["subscriptions"])
    gifted = await events_of(pools, "SubscriptionsGifted", "payer_id", gifter)
    assert len(gifted) == 1 and gifted[0]["data"]["coins"] == 2 * PRICE
    standing = await client.get(f"/v1/creators/{creator}/subscribers/{viewers[0]}")
    assert standing.json()["entitled"] and standing.json()["tier"] == "bronze"
    # A gifted month does not renew: it ends at its period's end.
    end = datetime.fromisoformat(r.json()["subscriptions"][0]["period_end"])
    await renew_due(pools["gifting"], end + timedelta(minutes=1))
    row = await sub_row(pools, viewers[0], creator)
    assert row["status"] == "ended" and row["ended_reason"] == "not-renewing"
    assert await balance(pools, gifter) == 8 * PRICE


async def test_payout_credits_the_creator_s_share_once_per_charge(client, prepared, pools):
    """The charge events gifting wrote (a subscribe, a renewal, a gift of two months), fed to
    payout's consumer twice: the creator earns floor(coins x share x rate) per charge, once."""
    creator = await creator_with_price(client, prepared, coins=333)
    fan, viewer = new_id("fan"), new_id("viewer")
    await fund_wallet(pools["gifting"], fan, 10_000)
    await client.get("/v1/wallet", headers=auth(prepared, viewer))
    other = new_id("viewer")
    await client.get("/v1/wallet", headers=auth(prepared, other))
    sub = (await subscribe(client, prepared, fan, creator, coins=333)).json()
    await renew_due(pools["gifting"], datetime.fromisoformat(sub["period_end"]) + DAY)
    r = await client.post(
        "/v1/subscription-gifts",
        json={"creator_id": creator, "coins": 333, "recipients": [viewer, other]},
        headers=auth(prepared, fan),
    )
    assert r.status_code == 201, r.text
    rows = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE envelope->'data'->>'creator_id' = $1"
        " AND event_type IN ('SubscriptionStarted', 'SubscriptionRenewed', 'SubscriptionsGifted')"
        " ORDER BY envelope->>'time'",
        creator,
    )
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    assert [e.type for e in envelopes] == [
        "SubscriptionStarted",
        "SubscriptionRenewed",
        "SubscriptionsGifted",
    ]
    assert await consume(prepared, pools["payout"], *envelopes) == []
    assert await consume(prepared, pools["payout"], *envelopes) == []  # redelivered: no-op
    earned = await pools["payout"].fetchval(
        "SELECT earned FROM creators WHERE creator_id = $1", creator
    )
    # 333 x 0.5 = 166 coins -> 166 diamonds per month; the gift: 666 x 0.5 = 333.
    assert earned == 166 + 166 + 333


async def test_read_models_fold_the_subscription_events_in_any_order(client, prepared, pools):
    """gifting's own subscription events, projected reversed and twice: the subscriptions row,
    the (creator, fan) entitlement, and the fan's wallet balance and statement lines."""
    creator = await creator_with_price(client, prepared)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 2 * PRICE + 50)
    sub = (await subscribe(client, prepared, fan, creator)).json()
    end = datetime.fromisoformat(sub["period_end"])
    await renew_due(pools["gifting"], end + timedelta(minutes=1))  # renewed: period 2
    row = await sub_row(pools, fan, creator)
    await renew_due(pools["gifting"], row["period_end"] + timedelta(minutes=1))  # short: grace
    await renew_due(pools["gifting"], row["period_end"] + 3 * DAY)  # lapsed
    rows = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 OR stream_id = $2 ORDER BY position",
        f"wallet-{fan}",
        f"subscription-{sub['subscription_id']}",
    )
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), "t", 0, i)
        for i, e in enumerate(reversed(envelopes))
    ]
    projector = Projector(pools["projections"])
    assert await projector.apply(batch) == []
    assert await projector.apply(batch) == []
    db = pools["projections"]
    got = await db.fetchrow(
        "SELECT * FROM subscriptions WHERE subscription_id = $1", sub["subscription_id"]
    )
    assert (got["fan_id"], got["creator_id"], got["periods_paid"], got["coins_paid"]) == (
        fan,
        creator,
        2,
        2 * PRICE,
    )
    assert got["renewals_failed"] == 1 and got["lapse_reason"] == "grace-expired"
    ent = await db.fetchrow(
        "SELECT months, tier, coins_paid FROM subscriber_entitlements"
        " WHERE creator_id = $1 AND fan_id = $2",
        creator,
        fan,
    )
    assert tuple(ent) == (2, "bronze", 2 * PRICE)
    wallet = await db.fetchval("SELECT balance FROM wallet_balances WHERE user_id = $1", fan)
    assert wallet == -2 * PRICE  # the funding CoinPurchased was not projected here
    kinds = await db.fetch(
        "SELECT kind, coins FROM wallet_statements WHERE user_id = $1 ORDER BY event_time", fan
    )
    assert [(k["kind"], k["coins"]) for k in kinds] == [("subscription", -PRICE)] * 2


async def test_reads_and_cancels_are_the_fan_s_own(client, prepared, pools):
    creator = await creator_with_price(client, prepared)
    fan, other = new_id("fan"), new_id("fan")
    await fund_wallet(pools["gifting"], fan, PRICE)
    sub = (await subscribe(client, prepared, fan, creator)).json()
    sid = sub["subscription_id"]
    mine = await client.get("/v1/subscriptions", headers=auth(prepared, fan))
    assert [s["subscription_id"] for s in mine.json()] == [sid]
    assert (await client.get("/v1/subscriptions", headers=auth(prepared, other))).json() == []
    assert (
        await client.get(f"/v1/subscriptions/{sid}", headers=auth(prepared, other))
    ).status_code == 404
    seen = await client.get(
        f"/v1/subscriptions/{sid}", headers=auth(prepared, creator, roles=["creator"])
    )
    assert seen.status_code == 200 and seen.json()["fan_id"] == fan
    r = await client.delete(f"/v1/subscriptions/{sid}", headers=auth(prepared, other))
    assert r.status_code == 404 and r.json()["type"].endswith("/subscription-not-found")
    assert (await sub_row(pools, fan, creator))["auto_renew"] is True
    price = await client.get(f"/v1/creators/{creator}/subscription-price")
    assert price.json() == {"creator_id": creator, "coins": PRICE, "version": 1}
    never = await client.get(f"/v1/creators/{creator}/subscribers/{other}")
    assert never.json()["entitled"] is False and never.json()["tier"] == "none"
