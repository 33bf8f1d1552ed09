"""Reconcile's promotion invariants over real stores of a namespace of their own: clean after
coupons (a shared code at its cap, single-use codes), a bonus code and a discount code (US,
DE) on completed purchases and a discount held by a pending one (gifting and the read models fed the
events recharge wrote), and each corruption named by the check that guards it."""

import functools
import uuid
from datetime import UTC, datetime

import pytest

from eventkit.codec import encode
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.promotions import BonusCoinsGranted
from scripts import reconcile_promotions
from services.gifting.handlers import on_bonus_granted
from services.projections.projector import Incoming, Projector
from tests.support.apps import auth, new_id
from tests.support.recharge import create_campaign, recharge_app, settle

NOW = datetime.now(UTC)
CAPS = "promotions: uses = the counters, within each campaign's and user's cap"
CODES = "promotions: each single-use code used at most once"
GRANTS = "promotions: each redemption's events and bonus lot, each lot's redemption"
DISCOUNTS = "promotions: discounted purchases charged the catalog price less the discount"
READ_MODELS = "promotions: read models agree with recharge"


def shared_code() -> str:
    return new_id("R").replace("-", "")[:12].upper()


@pytest.fixture(scope="module")
async def world(namespace):
    settings = await namespace(f"rpr{uuid.uuid4().hex[:4]}")
    async with recharge_app(settings, max_purchases_per_hour=50) as rc:
        yield rc, await story(rc)


async def story(rc) -> dict[str, dict]:
    def admin() -> dict[str, str]:  # a fresh Idempotency-Key each
        return auth(rc.settings, "ops-1", roles=["admin"])

    # Lots that expire, and caps small enough to reach.
    campaign = functools.partial(
        create_campaign, rc, max_redemptions=10, bonus_expires_after_days=30
    )

    async def redeem(user: str, code: str) -> None:
        r = await rc.client.post(
            "/v1/coupons/redeem", json={"code": code}, headers=auth(rc.settings, user)
        )
        assert r.status_code == 201, r.text

    async def buy(user: str, code: str, method: str = "sandbox_success", **claims) -> None:
        body = {"bundle_id": "coins_3500", "channel": "web", "promo_code": code}
        r = await rc.client.post(
            "/v1/purchases",
            json={**body, "payment_method": method},
            headers=auth(rc.settings, user, **claims),
        )
        assert r.status_code == 202, r.text

    full = await campaign(shared_code=(code := shared_code()), max_redemptions=2)
    for _ in range(2):
        await redeem(new_id("fan"), code)
    single = await campaign(per_user_limit=2)
    r = await rc.client.post(
        f"/v1/admin/campaigns/{single['campaign_id']}/codes", json={"count": 3}, headers=admin()
    )
    one, two, _unused = r.json()["codes"]
    fan = new_id("fan")
    await redeem(fan, one)
    await redeem(fan, two)
    off = await campaign(
        kind="promo_code", shared_code=(code := shared_code()), bonus_coins=None, discount_bp=1000
    )
    await buy(new_id("fan"), code)
    await buy(new_id("fan"), code, country="DE")
    await buy(new_id("fan"), code, "sandbox_timeout")  # pending: its use is held, not made
    bonus = await campaign(kind="promo_code", shared_code=(code := shared_code()))
    await buy(new_id("fan"), code)
    await settle(rc)

    rows = await rc.pools["recharge"].fetch("SELECT envelope FROM events ORDER BY position")
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    for env in envelopes:
        if env.type == BonusCoinsGranted.event_type:
            async with rc.pools["gifting"].acquire() as conn, conn.transaction():
                await on_bonus_granted(conn, env, BonusCoinsGranted.model_validate(env.data))
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), topics.RECHARGE_EVENTS, 0, i)
        for i, e in enumerate(envelopes)
    ]
    assert await Projector(rc.pools["projections"]).apply(batch) == []
    return {"full": full, "single": single, "off": off, "bonus": bonus}


async def run_checks(db) -> dict[str, list[str]]:
    return {name: (await check(db))[1] for name, check in reconcile_promotions.CHECKS.items()}


def named(found: list[str], *words: str) -> bool:
    return any(all(w in line for w in words) for line in found)


COLUMNS = (
    "redemption_id, campaign_id, user_id, country, source, single_use, code, purchase_id,"
    " bonus_coins, discount_minor, discount_currency, discount_settlement_minor,"
    " settlement_currency, grant_id, expires_at, status, created_at, redeemed_at"
)


async def copy_use(recharge, redemption_id, **over) -> uuid.UUID:
    """A second promo_redemptions row like `redemption_id`'s (no purchase, no grant), as a
    path that skipped the counters would write it."""
    new = uuid.uuid4()
    values = {"redemption_id": new, "purchase_id": None, "grant_id": None, **over}
    params = {column: f"${i + 2}" for i, column in enumerate(values)}
    picked = ", ".join(params.get(c, c) for c in COLUMNS.split(", "))
    await recharge.execute(
        f"INSERT INTO promo_redemptions ({COLUMNS}) SELECT {picked} FROM promo_redemptions"
        " WHERE redemption_id = $1",
        redemption_id,
        *values.values(),
    )
    return new


async def test_clean_stores_pass_and_each_corruption_is_named(world):
    rc, c = world
    db = rc.pools
    found = await run_checks(db)
    assert {k: v for k, v in found.items() if v} == {}
    examined = {name: (await check(db))[0] for name, check in reconcile_promotions.CHECKS.items()}
    assert examined[DISCOUNTS] == 3 and examined[GRANTS] == 7 and examined[CODES] == 3
    r, g, p = db["recharge"], db["gifting"], db["projections"]
    full, single = c["full"]["campaign_id"], c["single"]["campaign_id"]

    # A use past the campaign's cap, by a user the counters never saw.
    first = await r.fetchval(
        "SELECT redemption_id FROM promo_redemptions WHERE campaign_id = $1 LIMIT 1", full
    )
    extra = await copy_use(r, first, user_id="fan-sneaky")
    found = await run_checks(db)
    assert named(found[CAPS], full, "past its cap of 2")
    assert named(found[CAPS], full, "fan-sneaky", "counted 0 uses")
    await r.execute("DELETE FROM promo_redemptions WHERE redemption_id = $1", extra)

    # A user's third use of a campaign that allows two, with a single-use code used again.
    fan, spent = await r.fetchrow(
        "SELECT user_id, code FROM promo_redemptions WHERE campaign_id = $1 LIMIT 1", single
    )
    again = await copy_use(r, first, campaign_id=single, user_id=fan, code=spent, single_use=True)
    found = await run_checks(db)
    assert named(found[CAPS], single, fan, "past 2 per user")
    assert named(found[CODES], spent, single, "used 2 times")
    await r.execute("DELETE FROM promo_redemptions WHERE redemption_id = $1", again)
    assert all(not f for f in (await run_checks(db)).values())

    # A lot whose expiry gifting changed, and a lot no redemption gave.
    lot = await g.fetchval("SELECT lot_id FROM wallet_lots WHERE campaign_id = $1 LIMIT 1", full)
    await g.execute(
        "UPDATE wallet_lots SET expires_at = expires_at + interval '1 day' WHERE lot_id = $1", lot
    )
    await g.execute(
        "INSERT INTO wallet_lots (lot_id, user_id, campaign_id, source, granted, remaining,"
        " granted_at, event_id) VALUES ('lot-from-nowhere', 'fan-x', $1, 'coupon', 5, 5, now(),"
        " $2)",
        full,
        uuid.uuid4(),
    )
    found = await run_checks(db)
    assert named(found[GRANTS], full, f"gifting's lot {lot}")
    assert named(found[GRANTS], "lot-from-nowhere", "traces back to no redemption")
    await g.execute(
        "UPDATE wallet_lots SET expires_at = expires_at - interval '1 day' WHERE lot_id = $1", lot
    )
    await g.execute("DELETE FROM wallet_lots WHERE lot_id = 'lot-from-nowhere'")

    # A discounted purchase charged a cent more than the catalog price less its discount.
    bought = await r.fetchval(
        "SELECT purchase_id FROM promo_redemptions WHERE campaign_id = $1 AND country = 'US'"
        " LIMIT 1",
        c["off"]["campaign_id"],
    )
    await r.execute(
        "UPDATE purchases SET price_minor = price_minor + 1 WHERE purchase_id = $1", bought
    )
    found = await run_checks(db)
    assert named(found[DISCOUNTS], str(bought), c["off"]["campaign_id"], "catalog price 3749")
    await r.execute(
        "UPDATE purchases SET price_minor = price_minor - 1 WHERE purchase_id = $1", bought
    )

    # The read models counting one redemption too many.
    bonus = c["bonus"]["campaign_id"]
    await p.execute(
        "UPDATE promo_campaigns SET redemptions = redemptions + 1 WHERE campaign_id = $1", bonus
    )
    await p.execute(
        "UPDATE promo_redemption_days SET bonus_coins = bonus_coins + 1 WHERE campaign_id = $1",
        bonus,
    )
    found = await run_checks(db)
    assert named(found[READ_MODELS], f"campaign {bonus}:", "promo_campaigns says")
    assert named(found[READ_MODELS], f"campaign {bonus} in US", "promo_redemption_days says")
    await p.execute(
        "UPDATE promo_campaigns SET redemptions = redemptions - 1 WHERE campaign_id = $1", bonus
    )
    await p.execute(
        "UPDATE promo_redemption_days SET bonus_coins = bonus_coins - 1 WHERE campaign_id = $1",
        bonus,
    )
    assert all(not f for f in (await run_checks(db)).values())
