"""The recharge API over HTTP (in-process ASGI) against real PostgreSQL: catalog, purchases
paid through the sandbox provider's signed webhooks, idempotency, eligibility, velocity limits
and bad input. Each purchase's events are checked in the event store and outbox."""

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import orjson
import pytest

from eventkit.webhooks import SIGNATURE_HEADER, sign
from services.recharge.payments import expire_overdue, refund_owed
from tests.support.apps import auth, new_id
from tests.support.recharge import (
    SECRET,
    events_of,
    notification,
    post_webhook,
    problem,
    purchase_rows,
    recharge_app,
    settle,
)


@pytest.fixture(scope="module")
async def rc(namespace):
    settings = await namespace("rc")
    async with recharge_app(settings) as env:
        yield env


async def buy(rc, user, body=None, **claims):
    body = {"bundle_id": "coins_70", "channel": "web"} if body is None else body
    return await rc.client.post(
        "/v1/purchases", json=body, headers=auth(rc.settings, user, **claims)
    )


async def test_catalog_prices_each_country_in_its_currency_and_channel(rc):
    us = (await rc.client.get("/v1/catalog", params={"country": "US"})).json()
    web = (await rc.client.get("/v1/catalog", params={"country": "US", "channel": "web"})).json()
    gb = (await rc.client.get("/v1/catalog", params={"country": "GB"})).json()
    assert (us["version"], us["currency"], us["price_list"]) == (2, "USD", "default")
    assert us["bundles"][0] == {
        "bundle_id": "coins_70",
        "coins": 70,
        "price": {"amount_minor": 99, "currency": "USD"},
    }
    assert web["bundles"][0]["price"]["amount_minor"] == 74
    assert gb["currency"] == "GBP" and gb["bundles"][0]["bundle_id"] == "coins_65"
    assert us["custom"]["min_coins"] == 30 and us["custom"]["max_coins"] == 500_000
    r = await rc.client.get("/v1/catalog", params={"country": "ZZ"})
    assert problem(r) == (422, "country-not-served")
    mine = await rc.client.get("/v1/catalog", headers=auth(rc.settings, "fan-jp", country="JP"))
    assert (mine.json()["country"], mine.json()["currency"]) == ("JP", "JPY")
    r = await rc.client.get("/v1/catalog", headers={"Authorization": "Bearer forged.token.x"})
    assert problem(r) == (401, "unauthorized")


async def test_purchase_is_pending_until_the_signed_webhook_confirms_it(rc):
    fan = new_id("fan")
    r = await buy(rc, fan, {"bundle_id": "coins_3500", "channel": "web"})
    assert r.status_code == 202, r.text
    out = r.json()
    assert (out["status"], out["coins"], out["price"]) == (
        "pending",
        3500,
        {"amount_minor": 3749, "currency": "USD"},
    )
    assert out["provider"] == "sandbox" and out["provider_txn_id"].startswith("sbx_")
    await settle(rc)
    got = (
        await rc.client.get(f"/v1/purchases/{out['purchase_id']}", headers=auth(rc.settings, fan))
    ).json()
    assert got["status"] == "confirmed"
    events = await events_of(rc, out["purchase_id"])
    assert [e["type"] for e in events] == ["PurchaseCreated", "CoinPurchased"]
    data = events[1]["data"]
    assert (
        data["coins"],
        data["settlement"],
        data["fee"],
        data["fx_rate"],
        data["fee_rate"],
        data["catalog_version"],
        data["rates_version"],
        data["provider_txn_id"],
    ) == (
        3500,
        {"amount_minor": 3749, "currency": "USD"},
        {"amount_minor": 112, "currency": "USD"},
        "1",
        "0.03",
        2,
        2,
        out["provider_txn_id"],
    )
    assert (
        await rc.pools["recharge"].fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1", f"purchase-{out['purchase_id']}"
        )
        == 2
    )


async def test_gbp_purchase_records_the_fx_rate_and_fee_applied(rc):
    fan = new_id("fan")
    r = await buy(
        rc, fan, {"bundle_id": "coins_660", "channel": "in_app", "currency": "GBP"}, country="GB"
    )
    assert r.status_code == 202, r.text
    await settle(rc)
    data = (await events_of(rc, r.json()["purchase_id"]))[1]["data"]
    assert (
        data["price"],
        data["settlement"],
        data["fee"],
        data["fx_rate"],
        data["country"],
        data["price_list"],
    ) == (
        {"amount_minor": 899, "currency": "GBP"},
        {"amount_minor": 1142, "currency": "USD"},
        {"amount_minor": 343, "currency": "USD"},
        "1.27",
        "GB",
        "GB",
    )  # 899 x 1.27 = 1141.73


async def test_custom_amount_is_bought_at_the_per_coin_price(rc):
    fan = new_id("fan")
    r = await buy(rc, fan, {"custom_coins": 12_000, "channel": "web"})
    assert r.status_code == 202, r.text
    assert (r.json()["bundle_id"], r.json()["coins"], r.json()["price"]["amount_minor"]) == (
        "custom",
        12_000,
        12_840,
    )


async def test_decline_token_ends_in_purchase_failed_with_no_coins(rc):
    fan = new_id("fan")
    r = await buy(
        rc, fan, {"bundle_id": "coins_70", "channel": "web", "payment_method": "sandbox_decline"}
    )
    assert r.status_code == 202
    await settle(rc)
    pid = r.json()["purchase_id"]
    got = (await rc.client.get(f"/v1/purchases/{pid}", headers=auth(rc.settings, fan))).json()
    assert (got["status"], got["reason"]) == ("failed", "declined")
    events = await events_of(rc, pid)
    assert [e["type"] for e in events] == ["PurchaseCreated", "PurchaseFailed"]
    assert events[1]["data"]["detail"].startswith("card_declined")


async def test_timeout_token_fails_after_the_payment_timeout_and_a_late_success_is_refunded(rc):
    fan = new_id("fan")
    r = await buy(
        rc, fan, {"bundle_id": "coins_70", "channel": "web", "payment_method": "sandbox_timeout"}
    )
    out = r.json()
    await settle(rc)
    assert (await purchase_rows(rc, fan))[0]["status"] == "pending"
    pay_by = datetime.fromisoformat(out["pay_by"])
    assert await expire_overdue(rc.pools["recharge"], pay_by - timedelta(seconds=1)) == 0
    assert await expire_overdue(rc.pools["recharge"], pay_by + timedelta(seconds=1)) >= 1
    assert await expire_overdue(rc.pools["recharge"], pay_by + timedelta(seconds=2)) == 0
    late = notification(out, "payment.succeeded")
    r = await post_webhook(rc, late)
    assert (r.status_code, r.json()["status"], r.json()["applied"]) == (200, "failed", False)
    again = notification(out, "payment.succeeded")  # the provider says it twice
    assert (await post_webhook(rc, again)).status_code == 200
    row = (await purchase_rows(rc, fan))[0]
    assert (row["status"], row["failure_reason"], row["late_success"], row["refund_status"]) == (
        "failed",
        "timeout",
        True,
        "due",
    )
    assert [e["type"] for e in await events_of(rc, out["purchase_id"])] == [
        "PurchaseCreated",
        "PurchaseFailed",
        "PaymentRefundDue",
    ]

    # The worker refunds it once, in full, however often it runs (two workers at once too).
    pool, provider = rc.pools["recharge"], rc.app.state.provider
    done = await asyncio.gather(*(refund_owed(pool, provider) for _ in range(3)))
    assert sum(done) >= 1 and await refund_owed(pool, provider) == 0
    events = await events_of(rc, out["purchase_id"])
    assert [e["type"] for e in events] == [
        "PurchaseCreated",
        "PurchaseFailed",
        "PaymentRefundDue",
        "PaymentRefunded",
    ]
    refund = await pool.fetchrow(
        "SELECT refund_id, amount_minor, currency FROM sandbox_refunds WHERE provider_txn_id = $1",
        out["provider_txn_id"],
    )
    assert events[3]["data"]["refund_id"] == refund["refund_id"]
    assert (
        events[3]["data"]["amount"]
        == out["price"]
        == {"amount_minor": refund["amount_minor"], "currency": refund["currency"]}
    )
    got = await rc.client.get(f"/v1/purchases/{out['purchase_id']}", headers=auth(rc.settings, fan))
    assert (got.json()["status"], got.json()["refund"]) == ("failed", "refunded")


async def test_duplicated_replayed_and_reordered_webhooks_credit_once(rc):
    fan = new_id("fan")
    # sandbox_timeout: the sandbox stays silent, so this test alone plays the provider.
    out = (
        await buy(
            rc,
            fan,
            {"bundle_id": "coins_350", "channel": "web", "payment_method": "sandbox_timeout"},
        )
    ).json()
    success = notification(out, "payment.succeeded")
    reversal = notification(out, "payment.reversed", reason_code="chargeback")
    early = await post_webhook(rc, reversal)  # overtakes its payment's confirmation
    assert problem(early) == (409, "purchase-not-confirmed")
    answers = await asyncio.gather(*(post_webhook(rc, success) for _ in range(5)))
    assert sorted(a.json()["applied"] for a in answers) == [False] * 4 + [True]
    retried = notification(out, "payment.succeeded")  # provider retry with a new event id
    assert (await post_webhook(rc, retried)).json() == {
        "purchase_id": out["purchase_id"],
        "status": "confirmed",
        "applied": False,
    }
    late = await post_webhook(rc, reversal)  # redelivered after the confirmation
    assert late.json()["applied"] is True and late.json()["status"] == "reversed"
    replay = await post_webhook(rc, success)  # an old delivery replayed byte for byte
    assert replay.json() == {
        "purchase_id": out["purchase_id"],
        "status": "reversed",
        "applied": False,
    }
    declined = await post_webhook(rc, notification(out, "payment.declined"))
    assert declined.json()["applied"] is False
    assert [e["type"] for e in await events_of(rc, out["purchase_id"])] == [
        "PurchaseCreated",
        "CoinPurchased",
        "CoinsClawedBack",
    ]


async def test_forged_or_altered_webhooks_are_rejected_and_change_nothing(rc):
    fan = new_id("fan")
    out = (
        await buy(
            rc,
            fan,
            {"bundle_id": "coins_70", "channel": "web", "payment_method": "sandbox_timeout"},
        )
    ).json()
    body = notification(out, "payment.succeeded")
    altered = body.replace(b'"amount_minor":74', b'"amount_minor":7')
    cases = {
        "no signature": {"content-type": "application/json"},
        "wrong secret": {SIGNATURE_HEADER: sign("x" * 40, body)},
        "signature of another body": {SIGNATURE_HEADER: sign(SECRET, altered)},
        "truncated signature": {SIGNATURE_HEADER: sign(SECRET, body)[:-2]},
    }
    for name, headers in cases.items():
        r = await rc.client.post("/v1/webhooks/sandbox", content=body, headers=headers)
        assert problem(r) == (401, "bad-signature"), name
    r = await rc.client.post(
        "/v1/webhooks/sandbox", content=altered, headers={SIGNATURE_HEADER: sign(SECRET, body)}
    )
    assert problem(r) == (401, "bad-signature")
    assert (await purchase_rows(rc, fan))[0]["status"] == "pending"
    assert (
        await rc.pools["recharge"].fetchval(
            "SELECT count(*) FROM provider_notifications WHERE provider_txn_id = $1",
            out["provider_txn_id"],
        )
        == 0
    )
    assert len(await events_of(rc, out["purchase_id"])) == 1


async def test_signed_but_invalid_notifications_are_refused_with_problems(rc):
    fan = new_id("fan")
    out = (
        await buy(
            rc,
            fan,
            {"bundle_id": "coins_70", "channel": "web", "payment_method": "sandbox_timeout"},
        )
    ).json()
    doc = orjson.loads(notification(out, "payment.succeeded"))
    cases = [
        (b"{not json", (422, "bad-webhook")),
        (orjson.dumps({**doc, "type": "payment.exploded"}), (422, "bad-webhook")),
        (orjson.dumps({**doc, "reason_code": "chargeback"}), (422, "bad-webhook")),
        (orjson.dumps({**doc, "provider_txn_id": "sbx_nope"}), (404, "purchase-not-found")),
        (
            orjson.dumps({**doc, "amount": {"amount_minor": 1, "currency": "USD"}}),
            (422, "webhook-mismatch"),
        ),
        (orjson.dumps({**doc, "purchase_id": str(uuid.uuid4())}), (422, "webhook-mismatch")),
    ]
    for body, want in cases:
        r = await post_webhook(rc, body)
        assert problem(r) == want, body
    assert (await purchase_rows(rc, fan))[0]["status"] == "pending"


async def test_idempotency_key_replays_the_answer_and_refuses_another_body(rc):
    fan = new_id("fan")
    headers = auth(rc.settings, fan)
    body = {"bundle_id": "coins_70", "channel": "web"}
    first = await rc.client.post("/v1/purchases", json=body, headers=headers)
    again = await rc.client.post("/v1/purchases", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await rc.client.post(
        "/v1/purchases", json={**body, "bundle_id": "coins_350"}, headers=headers
    )
    assert problem(other) == (409, "idempotency-key-reused")
    missing = await rc.client.post(
        "/v1/purchases", json=body, headers={"Authorization": headers["Authorization"]}
    )
    assert problem(missing) == (400, "idempotency-key-required")
    await settle(rc)
    assert [r["status"] for r in await purchase_rows(rc, fan)] == ["confirmed"]


@pytest.mark.parametrize(
    "body, want",
    [
        ({"custom_coins": -500, "channel": "web"}, (422, "validation-error")),
        ({"custom_coins": 0, "channel": "web"}, (422, "validation-error")),
        ({"custom_coins": 29, "channel": "web"}, (409, "amount-out-of-range")),
        ({"custom_coins": 500_001, "channel": "web"}, (409, "amount-out-of-range")),
        ({"custom_coins": 10**30, "channel": "web"}, (422, "validation-error")),
        ({"custom_coins": 12.5, "channel": "web"}, (422, "validation-error")),
        ({"custom_coins": "100", "channel": "web"}, (422, "validation-error")),
        ({"bundle_id": "coins_1", "channel": "web"}, (404, "bundle-not-found")),
        ({"bundle_id": "coins_65", "channel": "web"}, (404, "bundle-not-found")),  # a UK bundle
        ({"bundle_id": "../etc", "channel": "web"}, (422, "validation-error")),
        ({"bundle_id": "coins_70", "custom_coins": 100}, (422, "validation-error")),
        ({"channel": "web"}, (422, "validation-error")),
        ({"bundle_id": "coins_70", "channel": "carrier"}, (422, "validation-error")),
        ({"bundle_id": "coins_70", "currency": "EUR"}, (409, "currency-mismatch")),
        ({"bundle_id": "coins_70", "currency": "usd"}, (422, "validation-error")),
        ({"bundle_id": "coins_70", "payment_method": "tok_visa"}, (404, "unknown-payment-method")),
        ({"bundle_id": "coins_70", "coins": 1_000_000}, (422, "validation-error")),
        ({"custom_coins": 400_000, "channel": "in_app"}, (409, "over-daily-limit")),
        ([], (422, "validation-error")),
    ],
)
async def test_bad_input_gets_a_problem_and_changes_nothing(rc, body, want):
    fan = new_id("fan")
    r = await buy(rc, fan, body)
    assert problem(r) == want, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await purchase_rows(rc, fan) == []


@pytest.mark.parametrize(
    "body", [{"bundle_id": "coins_70", "custom_coins": 100}, {"channel": "web"}, {}]
)
async def test_a_purchase_names_a_bundle_or_a_custom_amount_never_both(rc, body):
    fan = new_id("fan")
    r = await buy(rc, fan, body)
    assert problem(r) == (422, "validation-error")
    assert [e["msg"] for e in r.json()["errors"]] == [
        "give exactly one of bundle_id and custom_coins"
    ], r.text
    assert await purchase_rows(rc, fan) == []


async def test_a_custom_amount_outside_the_catalog_names_the_current_range(rc):
    r = await buy(rc, new_id("fan"), {"custom_coins": 29, "channel": "web"})
    assert problem(r) == (409, "amount-out-of-range")
    assert (r.json()["min_coins"], r.json()["max_coins"], r.json()["catalog_version"]) == (
        30,
        500_000,
        2,
    )


async def test_malformed_json_and_missing_auth_get_problems_and_change_nothing(rc):
    fan = new_id("fan")
    headers = {**auth(rc.settings, fan), "content-type": "application/json"}
    r = await rc.client.post("/v1/purchases", content=b'{"bundle_id": "coins_70",', headers=headers)
    assert problem(r) == (422, "validation-error")
    r = await rc.client.post(
        "/v1/purchases", json={"bundle_id": "coins_70"}, headers={"Idempotency-Key": "k"}
    )
    assert problem(r) == (401, "unauthorized")
    r = await rc.client.get(f"/v1/purchases/{uuid.uuid4()}", headers=auth(rc.settings, fan))
    assert problem(r) == (404, "purchase-not-found")
    assert await purchase_rows(rc, fan) == []


TODAY = datetime.now(UTC).date()


def born(years_ago: int, days: int = 0) -> str:
    try:
        day = TODAY.replace(year=TODAY.year - years_ago)
    except ValueError:  # 29 February
        day = date(TODAY.year - years_ago, 3, 1)
    return (day + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    "claims, ok",
    [
        ({"country": "US", "birthdate": born(18)}, True),  # 18 today
        ({"country": "US", "birthdate": born(18, days=1)}, False),  # 18 tomorrow
        ({"country": "KR", "birthdate": born(19)}, True),
        ({"country": "KR", "birthdate": born(19, days=1)}, False),
        ({"country": "JP", "birthdate": born(19)}, False),  # 19 is not enough in Japan
        ({"country": "ZZ", "birthdate": born(30)}, False),  # unknown country
        ({"country": "KP", "birthdate": born(30)}, False),  # not enabled
        ({"country": None, "birthdate": born(30)}, False),
        ({"country": "US", "birthdate": None}, False),
        ({"country": "US", "birthdate": born(40), "account_type": "government"}, False),
    ],
)
async def test_age_and_country_decide_who_may_buy(rc, claims, ok):
    fan = new_id("fan")
    body = {"custom_coins": 100, "channel": "web"}
    # Noon UTC: TODAY in every zone of every enabled country (age is judged on the local day).
    rc.clock.now = datetime.combine(TODAY, time(12), UTC)
    try:
        r = await buy(rc, fan, body, **claims)
    finally:
        rc.clock.now = None
    if ok:
        assert r.status_code == 202, r.text
    else:
        assert problem(r) == (403, "not-eligible")
        assert await purchase_rows(rc, fan) == []


async def test_purchases_per_hour_limit_answers_429_with_retry_after(rc):
    fan, start = new_id("fan"), datetime.now(UTC)
    rc.clock.now = start
    try:
        for i in range(rc.limits.max_purchases_per_hour):
            rc.clock.now = start + timedelta(minutes=i)
            assert (await buy(rc, fan)).status_code == 202
        rc.clock.now = start + timedelta(minutes=10)
        r = await buy(rc, fan)
        assert problem(r) == (429, "purchase-limit")
        assert int(r.headers["retry-after"]) == 50 * 60  # when the first leaves the hour
        assert len(await purchase_rows(rc, fan)) == rc.limits.max_purchases_per_hour
        rc.clock.now = start + timedelta(minutes=60, seconds=1)
        assert (await buy(rc, fan)).status_code == 202
    finally:
        rc.clock.now = None


async def test_spend_per_day_limit_answers_429_until_the_spend_leaves_the_window(rc):
    fan, start = new_id("fan"), datetime.now(UTC)
    cap = rc.limits.max_spend_per_day_minor  # 100,000 US cents in these tests
    big = {"custom_coins": 60_000, "channel": "web"}  # 64,200 cents
    rc.clock.now = start
    try:
        assert (await buy(rc, fan, big)).status_code == 202
        rc.clock.now = start + timedelta(hours=2)
        r = await buy(rc, fan, big)
        assert problem(r) == (429, "purchase-limit") and str(cap) in r.json()["detail"]
        assert int(r.headers["retry-after"]) == 22 * 3600
        small = await buy(rc, fan, {"custom_coins": 30_000, "channel": "web"})  # 32,100 fits
        assert small.status_code == 202
        rc.clock.now = start + timedelta(hours=24, seconds=1)
        assert (await buy(rc, fan, big)).status_code == 202
    finally:
        rc.clock.now = None


async def test_concurrent_purchases_cannot_together_pass_the_hourly_limit(rc):
    fan = new_id("fan")
    answers = await asyncio.gather(*(buy(rc, fan) for _ in range(12)))
    assert sorted(a.status_code for a in answers) == [202] * rc.limits.max_purchases_per_hour + [
        429
    ] * (12 - rc.limits.max_purchases_per_hour)
    assert len(await purchase_rows(rc, fan)) == rc.limits.max_purchases_per_hour


async def test_a_webhook_lost_with_a_crashed_api_is_redelivered_by_the_worker(rc):
    """The API's own delivery never happens (its process 'died' right after answering); the
    sandbox's books still hold the notification, and the worker's tick delivers it."""
    from services.recharge.worker import tick

    fan = new_id("fan")
    rc.app.state.provider.after_commit = lambda txn: None  # the crash
    try:
        out = (await buy(rc, fan)).json()
    finally:
        del rc.app.state.provider.after_commit
    assert (await tick(rc.app.state.recharge, datetime.now(UTC)))["redelivered"] == 0  # not due yet
    due = datetime.now(UTC) + timedelta(seconds=rc.limits.sandbox_retry_seconds + 1)
    assert (await tick(rc.app.state.recharge, due))["redelivered"] >= 1
    assert (await purchase_rows(rc, fan))[0]["status"] == "confirmed"
    assert (await tick(rc.app.state.recharge, due))[
        "redelivered"
    ] == 0  # delivered: never sent again
    assert [e["type"] for e in await events_of(rc, out["purchase_id"])] == [
        "PurchaseCreated",
        "CoinPurchased",
    ]


async def test_the_sandbox_retries_a_refused_delivery_with_backoff(rc):
    fan = new_id("fan")
    out = (
        await buy(
            rc,
            fan,
            {"bundle_id": "coins_70", "channel": "web", "payment_method": "sandbox_timeout"},
        )
    ).json()
    provider = rc.app.state.provider
    await provider.reverse(out["provider_txn_id"], "chargeback")  # before any confirmation
    await settle(rc)
    row = await rc.pools["recharge"].fetchrow(
        "SELECT attempts, last_status, delivered_at, due_at > now() AS later"
        " FROM sandbox_notifications WHERE provider_txn_id = $1",
        out["provider_txn_id"],
    )
    assert dict(row) == {"attempts": 1, "last_status": 409, "delivered_at": None, "later": True}
    assert await provider.deliver_due(datetime.now(UTC)) == 0  # not due again yet
    assert (await purchase_rows(rc, fan))[0]["status"] == "pending"


async def test_another_users_purchase_is_not_found(rc):
    owner, other = new_id("fan"), new_id("fan")
    pid = (await buy(rc, owner)).json()["purchase_id"]
    r = await rc.client.get(f"/v1/purchases/{pid}", headers=auth(rc.settings, other))
    assert problem(r) == (404, "purchase-not-found")
    mine = await rc.client.get(f"/v1/purchases/{pid}", headers=auth(rc.settings, owner))
    assert mine.status_code == 200
    listed = await rc.client.get("/v1/purchases", headers=auth(rc.settings, other))
    assert pid not in {p["purchase_id"] for p in listed.json()["purchases"]}
