"""Reconcile's subscription invariants over real stores of a namespace of their own: clean
after a subscribe, a renewal, a grace, a gift and a cancel (payout and the read models fed the
events gifting wrote), and each corruption named by the check that guards it."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import encode
from eventkit.db import create_pool
from infra.__main__ import SERVICES
from schemas.envelope import Envelope
from scripts import reconcile, reconcile_subscriptions
from services.gifting.api import create
from services.gifting.subscription_renewals import renew_due
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import consume
from tests.support.wallets import fund_wallet

PRICE = 301  # odd: the creator's half rounds down


@pytest.fixture(scope="module")
async def world(namespace):
    settings = await namespace(f"rs{uuid.uuid4().hex[:4]}")
    db = {s: await create_pool(settings.database_for(s)) for s in SERVICES}
    app_now = datetime(2032, 3, 1, tzinfo=UTC)

    def factory(s):
        app = create(s)
        app.state.clock = lambda: app_now
        return app

    async with api_client(factory, settings) as client:
        await story(client, settings, db, app_now)
    yield settings, db
    for pool in db.values():
        await pool.close()


async def story(client, settings, db, now) -> None:
    creator = new_id("star")
    h = auth(settings, creator, roles=["creator"])
    r = await client.put(
        f"/v1/creators/{creator}/subscription-price", json={"coins": PRICE}, headers=h
    )
    assert r.status_code == 200, r.text
    fans = [new_id("fan") for _ in range(3)]
    for i, fan in enumerate(fans):
        await fund_wallet(db["gifting"], fan, PRICE * (2 if i else 1) + 7)
        body = {"creator_id": creator, "coins": PRICE}
        assert (
            await client.post("/v1/subscriptions", json=body, headers=auth(settings, fan))
        ).status_code == 201
    viewers = [new_id("viewer") for _ in range(2)]
    for v in viewers:
        await client.get("/v1/wallet", headers=auth(settings, v))
    gift = {"creator_id": creator, "coins": PRICE, "recipients": viewers}
    r = await client.post("/v1/subscription-gifts", json=gift, headers=auth(settings, fans[1]))
    assert r.status_code == 409  # fans[1] holds PRICE + 7 after subscribing: short
    await fund_wallet(db["gifting"], fans[2], 2 * PRICE)
    r = await client.post("/v1/subscription-gifts", json=gift, headers=auth(settings, fans[2]))
    assert r.status_code == 201, r.text
    end = now + timedelta(days=30, minutes=1)
    await renew_due(db["gifting"], end)  # fans[0] short: grace; the others renewed
    await renew_due(db["gifting"], end + timedelta(days=3))  # fans[0] lapses
    rows = await db["gifting"].fetch("SELECT envelope FROM events ORDER BY position")
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    # Funding went straight to the wallets (no CoinPurchased): the read model gets it as the
    # events would give it.
    from tests.support.wallets import coin_purchased

    funded = await db["gifting"].fetch(
        "SELECT user_id, sum(delta)::bigint AS coins FROM wallet_ledger WHERE kind = 'purchase'"
        " GROUP BY user_id"
    )
    envelopes += [coin_purchased(r["user_id"], r["coins"])[0] for r in funded]
    assert await consume(settings, db["payout"], *envelopes) == []
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), "t", 0, i) for i, e in enumerate(envelopes)
    ]
    assert await Projector(db["projections"]).apply(batch) == []


async def run_checks(db) -> dict[str, list[str]]:
    checks = {
        **reconcile_subscriptions.CHECKS,
        "diamonds": reconcile.diamonds_match_gifts,
        "ledger": reconcile.wallets_match_their_ledger,
    }
    return {name: (await check(db))[1] for name, check in checks.items()}


async def test_clean_stores_pass_and_each_corruption_is_named(world):
    settings, db = world
    found = await run_checks(db)
    assert all(not f for f in found.values()), found
    g = db["gifting"]

    # A period's coins changed: the charge no longer equals the periods it paid.
    sid = await g.fetchval(
        "SELECT subscription_id FROM subscription_periods WHERE period = 2 LIMIT 1"
    )
    await g.execute(
        "UPDATE subscription_periods SET coins = coins + 1 WHERE subscription_id = $1 AND period = 2",
        sid,
    )
    found = await run_checks(db)
    assert found["subscription debits = their ledger entries = the periods' coins"]
    assert found["subscriptions read model agrees with gifting"]
    await g.execute(
        "UPDATE subscription_periods SET coins = coins - 1 WHERE subscription_id = $1 AND period = 2",
        sid,
    )

    # A period paid twice (a second row under another number) is named.
    await g.execute("UPDATE subscriptions SET period = period + 1 WHERE subscription_id = $1", sid)
    assert (await run_checks(db))["every subscription period paid once"]
    await g.execute("UPDATE subscriptions SET period = period - 1 WHERE subscription_id = $1", sid)

    # A credit lost by payout: the creator's diamonds and the per-charge credits disagree.
    p = db["payout"]
    row = await p.fetchrow(
        "SELECT source_event_id, creator_id, diamonds FROM credits WHERE source = 'subscription' LIMIT 1"
    )
    await p.execute(
        "UPDATE credits SET diamonds = diamonds - 1 WHERE source_event_id = $1",
        row["source_event_id"],
    )
    await p.execute(
        "UPDATE creators SET earned = earned - 1 WHERE creator_id = $1", row["creator_id"]
    )
    found = await run_checks(db)
    assert found["subscription credits = each charge's creator share x rate"]
    assert found["diamonds"]
    await p.execute(
        "UPDATE credits SET diamonds = diamonds + 1 WHERE source_event_id = $1",
        row["source_event_id"],
    )
    await p.execute(
        "UPDATE creators SET earned = earned + 1 WHERE creator_id = $1", row["creator_id"]
    )
    assert all(not f for f in (await run_checks(db)).values())
