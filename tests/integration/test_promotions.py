"""Promo codes and coupons through the recharge API against real PostgreSQL: campaigns, codes
on purchases (bonus coins or a discount), coupons, every refusal (nothing recorded), the caps
under concurrency, and the monthly recharge cap of a minor's age band."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import encode
from policy.eligibility import load_policy
from schemas import topics
from schemas.envelope import Envelope
from services.projections.projector import Incoming, Projector
from services.recharge import purchases
from services.recharge.payments import expire_overdue
from tests.support.apps import auth, new_id
from tests.support.recharge import create_campaign as campaign
from tests.support.recharge import events_of, problem, recharge_app, settle

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
async def rc(namespace):
    settings = await namespace("promo")
    async with recharge_app(settings, max_purchases_per_hour=50) as env:
        yield env


async def codes(rc, campaign_id: str, count: int, key: str | None = None):
    return await rc.client.post(
        f"/v1/admin/campaigns/{campaign_id}/codes",
        json={"count": count},
        headers=auth(rc.settings, "ops-1", key, roles=["admin"]),
    )


async def redeem(rc, user: str, code: str, key: str | None = None, **claims):
    return await rc.client.post(
        "/v1/coupons/redeem", json={"code": code}, headers=auth(rc.settings, user, key, **claims)
    )


async def buy(rc, user: str, code: str | None, bundle="coins_3500", **claims):
    body = {"bundle_id": bundle, "channel": "web"}
    if code is not None:
        body["promo_code"] = code
    if "payment_method" in claims:
        body["payment_method"] = claims.pop("payment_method")
    return await rc.client.post(
        "/v1/purchases", json=body, headers=auth(rc.settings, user, **claims)
    )


async def stream(rc, user: str) -> list[dict]:
    rows = await rc.pools["recharge"].fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 ORDER BY version", f"promo-{user}"
    )
    return [r["envelope"] for r in rows]


async def uses(rc, campaign_id: str) -> tuple[int, int, int]:
    """(campaign's redeemed counter, redemption rows, BonusCoinsGranted events)."""
    db = rc.pools["recharge"]
    return (
        await db.fetchval(
            "SELECT redeemed FROM promo_campaigns WHERE campaign_id = $1", campaign_id
        ),
        await db.fetchval(
            "SELECT count(*) FROM promo_redemptions WHERE campaign_id = $1", campaign_id
        ),
        await db.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'BonusCoinsGranted'"
            " AND envelope->'data'->>'campaign_id' = $1",
            campaign_id,
        ),
    )


def shared_code() -> str:
    return new_id("C").replace("-", "")[:12].upper()


async def test_a_bonus_code_on_a_purchase_grants_its_coins_when_the_purchase_completes(rc):
    code = shared_code()
    c = await campaign(
        rc, kind="promo_code", shared_code=code, bonus_coins=200, bonus_expires_after_days=7
    )
    fan = new_id("fan")
    r = await buy(rc, fan, f"{code.lower()[:4]}-{code.lower()[4:]}")  # any case, dashes
    assert r.status_code == 202, r.text
    assert await stream(rc, fan) == []  # held, not redeemed, while the purchase is pending
    await settle(rc)
    created, purchased = await events_of(rc, r.json()["purchase_id"])
    assert created["data"]["campaign_id"] == c["campaign_id"]
    assert (purchased["type"], purchased["data"]["promo_code"]) == ("CoinPurchased", code)
    assert purchased["data"]["price"] == {"amount_minor": 3749, "currency": "USD"}
    redeemed, granted = await stream(rc, fan)
    assert (redeemed["type"], granted["type"]) == ("PromoRedeemed", "BonusCoinsGranted")
    assert granted["causationid"] == purchased["id"]
    g = granted["data"]
    assert (g["coins"], g["source"], g["purchase_id"], g["campaign_id"]) == (
        200,
        "promo_code",
        r.json()["purchase_id"],
        c["campaign_id"],
    )
    assert datetime.fromisoformat(g["expires_at"]) > datetime.now(UTC) + timedelta(days=6)
    assert redeemed["data"]["grant_id"] == g["grant_id"]
    assert (redeemed["data"]["country"], redeemed["data"]["bonus_coins"]) == ("US", 200)
    assert await uses(rc, c["campaign_id"]) == (1, 1, 1)


async def test_a_discount_code_lowers_the_price_and_the_settlement_and_grants_nothing(rc):
    code = shared_code()
    c = await campaign(rc, kind="promo_code", shared_code=code, bonus_coins=None, discount_bp=1000)
    fan = new_id("fan")
    r = await buy(rc, fan, code)
    assert r.status_code == 202, r.text
    # 3749 - round_half_even(374.9) = 3374; the provider charges the discounted price
    assert r.json()["price"] == {"amount_minor": 3374, "currency": "USD"}
    assert r.json()["settlement"] == {"amount_minor": 3374, "currency": "USD"}
    await settle(rc)
    _, purchased = await events_of(rc, r.json()["purchase_id"])
    assert purchased["data"]["discount"] == {"amount_minor": 375, "currency": "USD"}
    assert purchased["data"]["price"]["amount_minor"] == 3374
    assert purchased["data"]["fee"]["amount_minor"] == 101  # 3% of what is settled
    [redeemed] = await stream(rc, fan)
    assert redeemed["data"]["discount_settlement"] == {"amount_minor": 375, "currency": "USD"}
    assert (redeemed["data"]["bonus_coins"], redeemed["data"]["grant_id"]) == (0, None)
    assert await uses(rc, c["campaign_id"]) == (1, 1, 0)


async def test_the_daily_limit_counts_the_discounted_price_the_buyer_is_charged(rc):
    code = shared_code()
    c = await campaign(rc, kind="promo_code", shared_code=code, bonus_coins=None, discount_bp=5000)
    fan = new_id("fan")
    body = {"custom_coins": 120_000, "channel": "web"}  # 128,400 cents: over 100,000 a day

    async def custom(**more):
        return await rc.client.post(
            "/v1/purchases", json={**body, **more}, headers=auth(rc.settings, fan)
        )

    assert problem(await custom()) == (409, "over-daily-limit")
    r = await custom(promo_code=code)  # charged 64,200: within the limit
    assert r.status_code == 202, r.text
    assert r.json()["settlement"] == {"amount_minor": 64200, "currency": "USD"}
    assert await uses(rc, c["campaign_id"]) == (1, 1, 0)
    await settle(rc)


async def test_a_failed_purchase_gives_its_single_use_code_back(rc):
    c = await campaign(rc, kind="promo_code")
    [code] = (await codes(rc, c["campaign_id"], 1)).json()["codes"]
    held = await buy(rc, new_id("fan"), code, payment_method="sandbox_timeout")
    assert held.status_code == 202, held.text
    # While its purchase is pending the code is held: nobody else may use it.
    fan = new_id("fan")
    assert problem(await buy(rc, fan, code)) == (409, "promo-code-used")
    later = datetime.now(UTC) + timedelta(minutes=5)  # past the pending purchase's pay-by
    assert await expire_overdue(rc.pools["recharge"], later) >= 1
    assert await uses(rc, c["campaign_id"]) == (0, 0, 0)
    declined = await buy(rc, fan, code.lower(), payment_method="sandbox_decline")
    assert declined.status_code == 202, declined.text
    await settle(rc)
    assert await uses(rc, c["campaign_id"]) == (0, 0, 0)  # declined: given back again
    again = await buy(rc, fan, code)
    assert again.status_code == 202, again.text
    await settle(rc)
    assert [e["type"] for e in await stream(rc, fan)] == ["PromoRedeemed", "BonusCoinsGranted"]
    assert await uses(rc, c["campaign_id"]) == (1, 1, 1)


async def test_a_coupon_grants_bonus_coins_once_per_idempotency_key(rc):
    c = await campaign(rc, per_user_limit=2, bonus_expires_after_days=30)
    [code] = (await codes(rc, c["campaign_id"], 1)).json()["codes"]
    fan = new_id("fan")
    first = await redeem(rc, fan, code, key="k-1")
    assert first.status_code == 201, first.text
    again = await redeem(rc, fan, code, key="k-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["coins"] == 50 and first.json()["expires_at"] is not None
    [redeemed, granted] = await stream(rc, fan)
    assert granted["data"]["grant_id"] == first.json()["grant_id"]
    assert (granted["data"]["source"], granted["data"]["purchase_id"]) == ("coupon", None)
    assert redeemed["data"]["single_use"] is True
    # Anyone's second use of a single-use code, the redeemer's own included, is a 409.
    assert problem(await redeem(rc, fan, code)) == (409, "promo-code-used")
    assert problem(await redeem(rc, new_id("fan"), code)) == (409, "promo-code-used")
    assert await uses(rc, c["campaign_id"]) == (1, 1, 1)


async def test_single_use_codes_are_unguessable_shown_once_and_admin_only(rc):
    c = await campaign(rc)
    first = await codes(rc, c["campaign_id"], 5, key="batch-1")
    assert first.status_code == 201, first.text
    issued = first.json()["codes"]
    assert len(set(issued)) == 5 and all(len(x) == 19 and x.count("-") == 3 for x in issued)
    replay = await codes(rc, c["campaign_id"], 5, key="batch-1")
    assert replay.json()["batch_id"] == first.json()["batch_id"] and replay.json()["codes"] is None
    stored = await rc.pools["recharge"].fetch(
        "SELECT * FROM promo_codes WHERE campaign_id = $1", c["campaign_id"]
    )
    assert len(stored) == 5 and all(len(r["code_hash"]) == 32 for r in stored)
    r = await rc.client.post(
        f"/v1/admin/campaigns/{c['campaign_id']}/codes",
        json={"count": 1},
        headers=auth(rc.settings, "fan-1"),
    )
    assert problem(r) == (403, "forbidden")
    assert problem(await codes(rc, "no-such-campaign", 1)) == (404, "campaign-not-found")
    got = await rc.client.get(
        f"/v1/admin/campaigns/{c['campaign_id']}", headers=auth(rc.settings, "ops", roles=["admin"])
    )
    assert (got.status_code, got.json()["redeemed"]) == (200, 0)


async def test_every_refusal_names_its_reason_and_records_nothing(rc):
    day = timedelta(days=1)
    later = shared_code()
    await campaign(rc, shared_code=later, starts_at=(NOW + day).isoformat())
    over = shared_code()
    await campaign(
        rc, shared_code=over, starts_at=(NOW - 2 * day).isoformat(), ends_at=NOW.isoformat()
    )
    local = shared_code()
    await campaign(rc, shared_code=local, countries=["GB", "DE"])
    once = shared_code()
    once_c = await campaign(rc, shared_code=once, max_redemptions=2)
    onsale = shared_code()
    await campaign(rc, kind="promo_code", shared_code=onsale)
    fan = new_id("fan")
    assert (await redeem(rc, fan, once)).status_code == 201
    cases = [
        (await redeem(rc, fan, "NOSUCHCODE"), (404, "promo-code-not-found")),
        (await redeem(rc, fan, later), (409, "promo-code-not-yet-valid")),
        (await redeem(rc, fan, over), (409, "promo-code-expired")),
        (await redeem(rc, fan, local), (403, "promo-code-wrong-country")),
        (await redeem(rc, fan, once), (409, "promo-code-per-user-limit")),
        (await redeem(rc, fan, onsale), (409, "promo-code-wrong-kind")),
        (await buy(rc, fan, once), (409, "promo-code-wrong-kind")),
        (await buy(rc, fan, "NOSUCHCODE"), (404, "promo-code-not-found")),
    ]
    assert (await redeem(rc, new_id("fan"), once)).status_code == 201
    cases.append((await redeem(rc, new_id("fan"), once), (409, "promo-code-exhausted")))
    for r, want in cases:
        assert problem(r) == want, r.text
        assert r.headers["content-type"] == "application/problem+json"
    assert len(await stream(rc, fan)) == 2  # the first redemption only
    assert await uses(rc, once_c["campaign_id"]) == (2, 2, 2)
    assert (
        await rc.pools["recharge"].fetchval(
            "SELECT count(*) FROM purchases WHERE user_id = $1", fan
        )
        == 0
    )
    # A refused request's key is released: the same key is evaluated afresh later.
    key = new_id("key")
    assert problem(await redeem(rc, fan, local, key=key)) == (403, "promo-code-wrong-country")
    assert (await redeem(rc, fan, local, key=key, country="GB")).status_code == 201


async def test_a_ten_use_code_redeemed_by_a_hundred_at_once_is_redeemed_exactly_ten_times(rc):
    code = shared_code()
    c = await campaign(rc, shared_code=code, max_redemptions=10)
    fans = [new_id("fan") for _ in range(100)]
    answers = await asyncio.gather(*(redeem(rc, fan, code) for fan in fans))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 10 + [409] * 90
    assert {problem(r) for r in answers if r.status_code == 409} == {(409, "promo-code-exhausted")}
    assert await uses(rc, c["campaign_id"]) == (10, 10, 10)
    outbox = await rc.pools["recharge"].fetchval(
        "SELECT count(*) FROM outbox WHERE key = ANY($1::text[])", [f"promo-{f}" for f in fans]
    )
    assert outbox == 20  # PromoRedeemed + BonusCoinsGranted, for the ten


async def test_one_user_redeeming_at_once_from_many_requests_stays_within_their_cap(rc):
    code = shared_code()
    c = await campaign(rc, shared_code=code, max_redemptions=100, per_user_limit=3)
    fan = new_id("fan")
    answers = await asyncio.gather(*(redeem(rc, fan, code) for _ in range(12)))
    assert sorted(r.status_code for r in answers) == [201] * 3 + [409] * 9
    assert {problem(r) for r in answers if r.status_code == 409} == {
        (409, "promo-code-per-user-limit")
    }
    assert await uses(rc, c["campaign_id"]) == (3, 3, 3)
    assert [e["aggregateversion"] for e in await stream(rc, fan)] == [1, 2, 3, 4, 5, 6]


async def test_a_single_use_code_wanted_by_twenty_at_once_goes_to_one(rc):
    c = await campaign(rc)
    [code] = (await codes(rc, c["campaign_id"], 1)).json()["codes"]
    answers = await asyncio.gather(*(redeem(rc, new_id("fan"), code) for _ in range(20)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 19
    assert await uses(rc, c["campaign_id"]) == (1, 1, 1)


@pytest.fixture
def legal_at_16(monkeypatch):
    """JP's legal age lowered to 16, so its 16-19 band (recharge cap 10,000 JPY a month) is
    reachable: the shipped legal age (20) refuses minors before any band applies."""
    policy = load_policy()
    lowered = dataclasses.replace(policy, legal_age={**policy.legal_age, "JP": 16})
    monkeypatch.setattr(purchases, "load_policy", lambda: lowered)


async def test_a_minor_buys_coins_up_to_the_age_bands_monthly_recharge_cap(rc, legal_at_16):
    teen = new_id("teen")
    born = (datetime.now(UTC).date() - timedelta(days=17 * 366)).isoformat()
    claims = {"country": "JP", "birthdate": born}

    async def jp(bundle: str, **more):
        body = {"bundle_id": bundle, "channel": "in_app", **more}
        return await rc.client.post(
            "/v1/purchases", json=body, headers=auth(rc.settings, teen, **claims)
        )

    assert (await jp("coins_3500", payment_method="sandbox_decline")).status_code == 202
    await settle(rc)  # a declined purchase does not count; a pending one does
    assert (await jp("coins_3500")).status_code == 202  # 8000 JPY
    assert (await jp("coins_350")).status_code == 202  # 8800 JPY this month
    refused = await jp("coins_3500")
    assert problem(refused) == (403, "age-band-recharge-monthly-cap")
    body = refused.json()
    assert (body["rule"], body["limit"], body["spent"]) == ("JP/16-19", 10000, 8800)
    resets = datetime.fromisoformat(body["resets_at"])
    assert resets.day == 1 and resets > datetime.now(UTC) and resets.hour == 0
    assert (
        len(await rc.pools["recharge"].fetch("SELECT 1 FROM purchases WHERE user_id = $1", teen))
        == 3
    )
    assert (await jp("coins_70")).status_code == 202  # 160 more still fits
    adult = await rc.client.post(
        "/v1/purchases",
        json={"bundle_id": "coins_3500", "channel": "in_app"},
        headers=auth(rc.settings, new_id("fan"), country="JP", birthdate="1990-01-01"),
    )
    assert adult.status_code == 202


async def test_the_projections_count_redemptions_per_campaign_day_and_country_and_their_cost(rc):
    code = shared_code()
    c = await campaign(rc, kind="promo_code", shared_code=code, bonus_coins=None, discount_bp=1000)
    assert (await codes(rc, c["campaign_id"], 3)).status_code == 201
    for bundle, claims in (("coins_3500", {}), ("coins_3300", {"country": "GB"})):
        r = await buy(rc, new_id("fan"), code, bundle, **claims)
        assert r.status_code == 202, r.text
    await settle(rc)
    rows = await rc.pools["recharge"].fetch(
        "SELECT envelope, event_type FROM events WHERE envelope->'data'->>'campaign_id' = $1"
        " AND event_type IN ('CampaignCreated', 'PromoCodesIssued', 'PromoRedeemed')"
        " ORDER BY position",
        c["campaign_id"],
    )
    assert [r["event_type"] for r in rows].count("PromoRedeemed") == 2
    batch = [
        Incoming(encode(Envelope.model_validate(r["envelope"])), b"k", topics.RECHARGE_EVENTS, 0, i)
        for i, r in enumerate(rows)
    ]
    projector = Projector(rc.pools["projections"])
    assert await projector.apply(batch) == []
    assert await projector.apply(batch) == []  # a redelivery counts once
    db = rc.pools["projections"]
    row = await db.fetchrow(
        "SELECT * FROM analytics.promo_campaigns WHERE campaign_id = $1", c["campaign_id"]
    )
    assert (row["redemptions"], row["redemptions_left"], row["codes_issued"]) == (2, 98, 3)
    assert (row["discount_bp"], row["kind"], row["countries"]) == (1000, "promo_code", None)
    days = await db.fetch(
        "SELECT country, redemptions, discount_currency, discount_minor, discount_settlement_minor"
        " FROM analytics.promo_redemptions_daily WHERE campaign_id = $1 ORDER BY country",
        c["campaign_id"],
    )
    # GB coins_3300 on the web is 3374 pence: 337 off (337.4), settled in USD at the catalog's rate
    assert [tuple(d)[:4] for d in days] == [("GB", 1, "GBP", 337), ("US", 1, "USD", 375)]
    assert days[1]["discount_settlement_minor"] == 375 and days[0]["discount_settlement_minor"] > 0
    cost = await db.fetchrow(
        "SELECT * FROM analytics.campaign_cost WHERE campaign_id = $1", c["campaign_id"]
    )
    assert cost["discount_settlement_minor"] == sum(d["discount_settlement_minor"] for d in days)
    assert (cost["bonus_coins_granted"], cost["settlement_currency"]) == (0, "USD")
