"""The payout service against real PostgreSQL: ledger, requests, bans, review, callbacks."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from pydantic import TypeAdapter

from eventkit.idempotency import request_hash
from schemas import topics
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from services.payout.api import PayoutMethodBody
from services.payout.conversion import load_config
from services.payout.provider import SIGNATURE_HEADER, sign
from services.payout.settings import PayoutSettings
from tests.support.apps import auth, new_id
from tests.support.creators import (
    consume,
    content_unlocked,
    envelope,
    fund_creator,
    gift_sent,
    payout_app,
)

# 18 today: an adult in the US, not in Korea (19)
ADULT_18 = f"{date.today().year - 18}-01-01"
BANK = {"kind": "bank", "account_holder": "Ada", "iban": "DE89370400440532013000"}
RATES = load_config().rates.version  # what GET /v1/earnings shows as rates.version


@pytest.fixture(scope="module")
async def app(prepared):
    async with payout_app(prepared) as pair:
        yield pair


@pytest.fixture
def client(app):
    app[1].state.clock.now = None  # real time unless a test sets it
    return app[0]


async def earnings(client, settings, creator, **params) -> dict:
    r = await client.get("/v1/earnings", headers=auth(settings, creator), params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def creator_with(client, settings, pool, diamonds: int, method: dict | None = BANK) -> str:
    creator = new_id("cr")
    if diamonds:
        await fund_creator(settings, pool, creator, diamonds)
    if method:
        r = await client.put("/v1/payout-method", json=method, headers=auth(settings, creator))
        assert r.status_code == 200, r.text
    return creator


async def ask(client, settings, creator, diamonds: int, **extra):
    return await client.post(
        "/v1/payouts",
        json={"diamonds": diamonds, "rates_version": RATES, **extra},
        headers=auth(settings, creator, **extra.pop("_claims", {})),
    )


def problem(r) -> tuple[int, str]:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return r.status_code, r.json()["type"].rsplit("/", 1)[1]


async def events(pool, creator: str, event_type: str) -> list[dict]:
    rows = await pool.fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 AND event_type = $2 ORDER BY version",
        f"creator-{creator}",
        event_type,
    )
    return [r["envelope"]["data"] for r in rows]


# --- ledger ---------------------------------------------------------------------------------


async def test_replayed_gift_credits_once_and_total_is_coins_times_recorded_rate(
    client, prepared, pools
):
    creator = new_id("cr")
    gifts = [
        gift_sent(creator, coins, rate)
        for coins, rate in [(1000, "1"), (333, "0.5"), (7, "0.9"), (1, "1"), (250, "1.25")]
    ]
    await consume(prepared, pools["payout"], *gifts)
    await consume(prepared, pools["payout"], *gifts, gifts[0])  # redelivery, even twice
    want = 1000 + 166 + 6 + 1 + 312  # each gift rounded down on its own
    e = await earnings(client, prepared, creator)
    assert e["earned"] == want
    credited = await events(pools["payout"], creator, "DiamondsCredited")
    assert len(credited) == len(gifts) and sum(c["diamonds"] for c in credited) == want
    held = sum(c["held"] for c in credited)
    assert held == 100 + 16 + 0 + 0 + 31 and e["held"] == held
    assert e["available"] == want - held


async def test_unlocks_credit_the_owner_but_not_the_platform(client, prepared, pools):
    creator = new_id("cr")
    await consume(
        prepared, pools["payout"], content_unlocked(creator, 500), content_unlocked("platform", 900)
    )
    assert (await earnings(client, prepared, creator))["earned"] == 500
    assert (
        await pools["payout"].fetchval(
            "SELECT count(*) FROM creators WHERE creator_id = 'platform'"
        )
        == 0
    )


async def test_earnings_per_utc_day_and_per_stream(client, app, prepared, pools):
    creator, midnight = (
        new_id("cr"),
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
    )
    await consume(
        prepared,
        pools["payout"],
        gift_sent(creator, 100, stream="a", time=midnight - timedelta(seconds=1)),
        gift_sent(creator, 200, stream="a", time=midnight),
        gift_sent(creator, 40, stream="b", time=midnight + timedelta(hours=1)),
    )
    e = await earnings(client, prepared, creator)
    assert e["timezone"] == "UTC"
    assert e["per_day"] == [
        {"day": midnight.date().isoformat(), "diamonds": 240},
        {"day": (midnight - timedelta(days=1)).date().isoformat(), "diamonds": 100},
    ]
    assert e["per_stream"] == [
        {"stream_id": "a", "diamonds": 300},
        {"stream_id": "b", "diamonds": 40},
    ]


# --- payout method and requests --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "cash"},
        {"kind": "bank", "account_holder": "A", "iban": "nope"},
        {"kind": "paypal", "email": "not-an-email"},
        {**BANK, "extra": 1},
        {"kind": "bank"},
    ],
)
async def test_bad_payout_method_gets_a_validation_problem(client, prepared, body):
    r = await client.put("/v1/payout-method", json=body, headers=auth(prepared, new_id("cr")))
    assert problem(r) == (422, "validation-error")


async def test_50_concurrent_requests_never_reserve_more_than_available(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 10_000)
    replies = await asyncio.gather(*[ask(client, prepared, creator, 2000) for _ in range(50)])
    assert sorted(r.status_code for r in replies) == [201] * 5 + [409] * 45
    assert {problem(r)[1] for r in replies if r.status_code == 409} == {"insufficient-diamonds"}
    e = await earnings(client, prepared, creator)
    assert (e["pending"], e["available"]) == (10_000, 0)
    assert len(await events(pools["payout"], creator, "PayoutRequested")) == 5


async def test_requests_refused_with_typed_problems_and_nothing_reserved(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 5000)
    no_method = await creator_with(client, prepared, pools["payout"], 5000, method=None)
    cases = [
        (creator, {"diamonds": 1999}, {}, 409, "below-minimum"),
        (creator, {"diamonds": 300_000}, {}, 409, "daily-cap-exceeded"),
        (creator, {"diamonds": 2000, "currency": "XYZ"}, {}, 422, "validation-error"),
        (creator, {"diamonds": 2000, "currency": "usd"}, {}, 422, "validation-error"),
        (creator, {"diamonds": 0}, {}, 422, "validation-error"),
        (creator, {"diamonds": 2000, "method": "paypal"}, {}, 409, "method-mismatch"),
        (creator, {"diamonds": 2000, "method": "cash"}, {}, 422, "validation-error"),
        (creator, {"diamonds": 6000}, {}, 409, "insufficient-diamonds"),
        (
            creator,
            {"diamonds": 2000},
            {"birthdate": ADULT_18, "country": "KR"},
            403,
            "not-eligible",
        ),
        (creator, {"diamonds": 2000}, {"account_type": "government"}, 403, "not-eligible"),
        (no_method, {"diamonds": 2000}, {}, 409, "no-payout-method"),
    ]
    for who, body, claims, status, code in cases:
        r = await client.post(
            "/v1/payouts",
            json={"rates_version": RATES, **body},
            headers=auth(prepared, who, **claims),
        )
        assert problem(r) == (status, code), (body, r.text)
    r = await client.post(
        "/v1/payouts",
        json={"diamonds": 2000, "rates_version": RATES},
        headers={"Idempotency-Key": "k"},
    )
    assert problem(r) == (401, "unauthorized")
    for who in (creator, no_method):
        assert (await earnings(client, prepared, who))["pending"] == 0


async def test_daily_maximum_is_per_utc_day_and_resets_at_midnight(client, app, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 300_000)
    midnight = datetime(2031, 5, 2, tzinfo=UTC)
    clock = app[1].state.clock
    clock.now = midnight - timedelta(minutes=1)
    r = await ask(client, prepared, creator, 100_000)  # $500
    assert r.status_code == 201, r.text
    r = await ask(client, prepared, creator, 100_000)  # $1,000 in all
    assert r.status_code == 201, r.text
    assert problem(await ask(client, prepared, creator, 2000)) == (409, "daily-cap-exceeded")
    clock.now = midnight
    assert (await ask(client, prepared, creator, 2000)).status_code == 201


async def test_idempotent_retry_reserves_once(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 8000)
    headers = auth(prepared, creator, key="same")
    replies = await asyncio.gather(
        *[
            client.post(
                "/v1/payouts", json={"diamonds": 2000, "rates_version": RATES}, headers=headers
            )
            for _ in range(5)
        ]
    )
    assert len({r.json()["payout_id"] for r in replies}) == 1
    assert (await earnings(client, prepared, creator))["pending"] == 2000


async def test_a_retried_payout_method_replays_and_says_so(client, prepared, pools):
    creator = new_id("cr")
    headers = auth(prepared, creator, key="method")
    first = await client.put("/v1/payout-method", json=BANK, headers=headers)
    again = await client.put("/v1/payout-method", json=BANK, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.put(
        "/v1/payout-method", json={**BANK, "account_holder": "Bob"}, headers=headers
    )
    assert (other.status_code, other.json()["type"].rsplit("/", 1)[-1]) == (
        409,
        "idempotency-key-reused",
    )
    # Keys stored before still match: the fingerprint is the method, the path and the body.
    stored = await pools["payout"].fetchval(
        "SELECT request_hash FROM idempotency_keys WHERE caller = $1 AND key = 'method'", creator
    )
    body = TypeAdapter(PayoutMethodBody).validate_python(BANK)
    assert stored == request_hash("PUT /v1/payout-method", body.model_dump(mode="json"))


# --- bans -----------------------------------------------------------------------------------


async def ban(settings, pool, user, scopes, expires_at=None) -> str:
    ban_id = str(uuid.uuid4())
    await consume(
        settings,
        pool,
        envelope(
            TransactionBanPlaced(
                ban_id=ban_id,
                user_id=user,
                scopes=scopes,
                reason="test",
                source="admin",
                expires_at=expires_at,
            ),
            f"ban-{ban_id}",
        ),
        topic=topics.SANCTIONS_EVENTS,
    )
    return ban_id


async def test_payout_ban_refuses_until_lifted(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 5000)
    ban_id = await ban(prepared, pools["payout"], creator, ["payout", "gift"])
    assert problem(await ask(client, prepared, creator, 2000)) == (403, "payout-banned")
    await consume(
        prepared,
        pools["payout"],
        envelope(
            TransactionBanLifted(ban_id=ban_id, user_id=creator, reason="appeal", source="admin"),
            f"ban-{ban_id}",
        ),
        topic=topics.SANCTIONS_EVENTS,
    )
    assert (await ask(client, prepared, creator, 2000)).status_code == 201


async def test_suspension_refuses_permanent_ban_may_withdraw_and_expired_ban_is_ignored(
    client, prepared, pools
):
    suspended = await creator_with(client, prepared, pools["payout"], 5000)
    await ban(
        prepared, pools["payout"], suspended, ["account"], datetime.now(UTC) + timedelta(days=7)
    )
    assert problem(await ask(client, prepared, suspended, 2000)) == (403, "payout-banned")
    banned = await creator_with(client, prepared, pools["payout"], 5000)
    await ban(prepared, pools["payout"], banned, ["account"])
    assert (await ask(client, prepared, banned, 2000)).status_code == 201  # policy flag true
    expired = await creator_with(client, prepared, pools["payout"], 5000)
    await ban(prepared, pools["payout"], expired, ["payout"], datetime.now(UTC) - timedelta(1))
    assert (await ask(client, prepared, expired, 2000)).status_code == 201


# --- review ---------------------------------------------------------------------------------


async def test_large_payout_waits_for_admin_and_rejection_returns_the_diamonds(
    client, prepared, pools
):
    creator = await creator_with(client, prepared, pools["payout"], 150_000)
    r = await ask(client, prepared, creator, 120_000)  # $600 > $500 review threshold
    assert r.status_code == 201 and r.json()["status"] == "review" and r.json()["requires_review"]
    pid = r.json()["payout_id"]
    admin = auth(prepared, "admin-1", roles=["admin"])
    r = await client.post(f"/v1/admin/payouts/{pid}/reject", headers=auth(prepared, creator))
    assert problem(r) == (403, "forbidden")
    r = await client.post(
        f"/v1/admin/payouts/{pid}/reject", headers=admin, json={"detail": "documents missing"}
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["reason"]) == (
        "failed",
        "rejected",
    )
    assert problem(await client.post(f"/v1/admin/payouts/{pid}/approve", headers=admin)) == (
        409,
        "payout-not-in-review",
    )
    e = await earnings(client, prepared, creator)
    assert (e["pending"], e["available"]) == (0, 150_000)
    failed = await events(pools["payout"], creator, "PayoutFailed")
    assert [(f["reason"], f["diamonds"]) for f in failed] == [("rejected", 120_000)]
    assert (await ask(client, prepared, creator, 120_000)).status_code == 201  # allowance back


async def test_approval_sends_it_on_once(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 150_000)
    pid = (await ask(client, prepared, creator, 120_000)).json()["payout_id"]
    admin = auth(prepared, "admin-1", roles=["admin"])
    replies = await asyncio.gather(
        *[client.post(f"/v1/admin/payouts/{pid}/approve", headers=admin) for _ in range(10)]
    )
    assert sorted(r.status_code for r in replies) == [200] + [409] * 9
    assert len(await events(pools["payout"], creator, "PayoutApproved")) == 1
    r = await client.get(f"/v1/payouts/{pid}", headers=auth(prepared, creator))
    assert r.json()["status"] == "pending"
    assert problem(await client.get(f"/v1/payouts/{pid}", headers=auth(prepared, "other"))) == (
        404,
        "payout-not-found",
    )
    assert problem(
        await client.post(f"/v1/admin/payouts/{uuid.uuid4()}/approve", headers=admin)
    ) == (404, "payout-not-found")


# --- callbacks ------------------------------------------------------------------------------


def callback(pid: str, outcome: str, ref: str = "sbx-test", secret: str | None = None):
    body = orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "payout_id": pid,
            "provider_ref": ref,
            "outcome": outcome,
            "detail": None if outcome == "completed" else "x",
        }
    )
    secret = secret or PayoutSettings().callback_secret
    return body, {SIGNATURE_HEADER: sign(secret, body), "content-type": "application/json"}


async def test_bad_signature_or_body_changes_nothing(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 5000)
    pid = (await ask(client, prepared, creator, 2000)).json()["payout_id"]
    body, headers = callback(pid, "completed", secret="w" * 40)
    r = await client.post("/v1/callbacks/sandbox", content=body, headers=headers)
    assert problem(r) == (401, "bad-signature")
    body, headers = callback(pid, "completed")
    r = await client.post("/v1/callbacks/sandbox", content=body + b" ", headers=headers)
    assert problem(r) == (401, "bad-signature")
    r = await client.post(
        "/v1/callbacks/sandbox", content=body, headers={"content-type": "application/json"}
    )
    assert problem(r) == (401, "bad-signature")
    bad = orjson.dumps({"payout_id": pid, "outcome": "maybe"})
    r = await client.post(
        "/v1/callbacks/sandbox",
        content=bad,
        headers={SIGNATURE_HEADER: sign(PayoutSettings().callback_secret, bad)},
    )
    assert problem(r) == (422, "bad-callback")
    body, headers = callback(str(uuid.uuid4()), "completed")
    assert problem(await client.post("/v1/callbacks/sandbox", content=body, headers=headers)) == (
        404,
        "payout-not-found",
    )
    assert (await earnings(client, prepared, creator))["pending"] == 2000


async def test_100_concurrent_settle_and_void_callbacks_leave_exactly_one_outcome(
    client, prepared, pools
):
    creator = await creator_with(client, prepared, pools["payout"], 5000)
    pid = (await ask(client, prepared, creator, 2000)).json()["payout_id"]
    body, headers = callback(pid, "completed")
    early = await client.post("/v1/callbacks/sandbox", content=body, headers=headers)
    assert problem(early) == (409, "payout-not-settleable")  # no provider reference yet
    await pools["payout"].execute(  # what the worker's submit records (tested in payout_flow)
        "UPDATE payouts SET status = 'submitted', provider = 'sandbox', provider_ref = 'sbx-test'"
        " WHERE payout_id = $1",
        uuid.UUID(pid),
    )
    wrong = callback(pid, "completed", ref="sbx-other")
    assert problem(
        await client.post("/v1/callbacks/sandbox", content=wrong[0], headers=wrong[1])
    ) == (409, "payout-not-settleable")
    calls = [callback(pid, "completed" if i % 2 else "failed") for i in range(100)]
    replies = await asyncio.gather(
        *[client.post("/v1/callbacks/sandbox", content=b, headers=h) for b, h in calls]
    )
    assert {r.status_code for r in replies} == {200}
    assert sum(r.json()["applied"] for r in replies) == 1
    final = {r.json()["status"] for r in replies if r.json()["applied"]}.pop()
    assert {r.json()["status"] for r in replies} == {final}
    completed = await events(pools["payout"], creator, "PayoutCompleted")
    failed = await events(pools["payout"], creator, "PayoutFailed")
    assert len(completed) + len(failed) == 1
    e = await earnings(client, prepared, creator)
    if final == "completed":
        assert (e["pending"], e["paid"], e["available"]) == (0, 2000, 3000)
    else:
        assert (e["pending"], e["paid"], e["available"]) == (0, 0, 5000)


async def test_another_creators_payout_is_not_found_but_an_admin_sees_it(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 5000)
    pid = (await ask(client, prepared, creator, 2000)).json()["payout_id"]
    other = new_id("cr")
    r = await client.get(f"/v1/payouts/{pid}", headers=auth(prepared, other, roles=["creator"]))
    assert problem(r) == (404, "payout-not-found")
    r = await client.get(f"/v1/payouts/{pid}", headers=auth(prepared, "ops", roles=["admin"]))
    assert r.status_code == 200 and r.json()["payout_id"] == pid


async def test_payouts_are_paid_in_the_creators_currency_unless_a_request_names_another(
    client, prepared, pools
):
    paypal = {"kind": "paypal", "email": "ada@example.com", "currency": "EUR"}
    creator = await creator_with(client, prepared, pools["payout"], 9000, method=paypal)
    default = (await ask(client, prepared, creator, 2000)).json()
    # 2,000 diamonds x $0.005 = $10.00 = EUR 9.25 at 1.08 USD per EUR: 0.925925925926 EUR per
    # USD, the rate recorded (12 places), amount rounded down
    assert (default["amount"], default["usd_minor"]) == (
        {"amount_minor": 925, "currency": "EUR"},
        1000,
    )
    named = (await ask(client, prepared, creator, 2000, currency="GBP")).json()
    assert named["amount"]["currency"] == "GBP"
    event = await pools["payout"].fetchval(
        "SELECT envelope FROM events WHERE event_id = $1", uuid.UUID(default["event_id"])
    )
    assert (event["data"]["amount"], event["data"]["fx_rate"]) == (
        {"amount_minor": 925, "currency": "EUR"},
        "0.925925925926",
    )
    r = await client.put(
        "/v1/payout-method", json={**paypal, "currency": "JPY"}, headers=auth(prepared, creator)
    )
    assert problem(r) == (422, "validation-error")  # not among the configured currencies
    assert {e["loc"][-1] for e in r.json()["errors"]} == {"currency"}


# --- rates ----------------------------------------------------------------------------------


async def test_a_payout_names_the_rates_it_was_shown_and_is_refused_when_they_changed(
    client, app, prepared, pools
):
    paypal = {"kind": "paypal", "email": "ada@example.com", "currency": "EUR"}
    creator = await creator_with(client, prepared, pools["payout"], 20_000, method=paypal)
    shown = (await earnings(client, prepared, creator))["rates"]
    assert (shown["version"], shown["usd_per_diamond"], shown["usd_per_unit"]["EUR"]) == (
        RATES,
        "0.005",
        "1.08",
    )
    r = await client.get(
        "/v1/payouts/quote", params={"diamonds": 2000}, headers=auth(prepared, creator)
    )
    assert r.status_code == 200, r.text
    assert (r.json()["amount"], r.json()["rates_version"]) == (
        {"amount_minor": 925, "currency": "EUR"},
        RATES,
    )  # the method's currency by default
    first = auth(prepared, creator, key="before-the-change")
    r = await client.post(
        "/v1/payouts", json={"diamonds": 2000, "rates_version": RATES}, headers=first
    )
    assert r.status_code == 201, r.text

    config = app[1].state.config
    moved = config().model_copy(
        update={
            "rates": config().rates.model_copy(
                update={"version": RATES + 1, "usd_per_diamond": Decimal("0.004")}
            )
        }
    )
    app[1].state.config = lambda: moved
    try:
        r = await ask(client, prepared, creator, 2000)  # still naming the old version
        assert problem(r) == (409, "rates-changed")
        assert r.json()["current_rates_version"] == RATES + 1
        assert (await earnings(client, prepared, creator))["pending"] == 2000  # nothing more
        # A retry of the request that succeeded before the change replays it.
        r = await client.post(
            "/v1/payouts", json={"diamonds": 2000, "rates_version": RATES}, headers=first
        )
        assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
        quote = (
            await client.get(
                "/v1/payouts/quote", params={"diamonds": 2500}, headers=auth(prepared, creator)
            )
        ).json()
        assert (quote["amount"], quote["usd_minor"], quote["rates_version"]) == (
            {"amount_minor": 925, "currency": "EUR"},
            1000,
            RATES + 1,
        )  # 2,500 x $0.004
        r = await ask(client, prepared, creator, 2500, rates_version=RATES + 1)
        assert r.status_code == 201, r.text
        assert r.json()["amount"] == quote["amount"]
        event = await pools["payout"].fetchval(
            "SELECT envelope FROM events WHERE event_id = $1", uuid.UUID(r.json()["event_id"])
        )
        assert (event["data"]["rates_version"], event["data"]["usd_per_diamond"]) == (
            RATES + 1,
            "0.004",
        )
    finally:
        app[1].state.config = config


async def test_the_minimum_is_money_so_the_diamonds_it_takes_follow_the_rates(
    client, app, prepared, pools
):
    """Below the minimum is a conflict with the rates in force (409), and the problem says how
    many diamonds the minimum takes at them: $10.00 is 2,000 diamonds at $0.005, 2,500 at
    $0.004."""
    creator = await creator_with(client, prepared, pools["payout"], 5000)
    r = await ask(client, prepared, creator, 1999)
    assert problem(r) == (409, "below-minimum")
    assert (r.json()["minimum_diamonds"], r.json()["rates_version"]) == (2000, RATES)
    config = app[1].state.config
    moved = config().model_copy(
        update={
            "rates": config().rates.model_copy(
                update={"version": RATES + 1, "usd_per_diamond": Decimal("0.004")}
            )
        }
    )
    app[1].state.config = lambda: moved
    try:
        r = await client.get(
            "/v1/payouts/quote", params={"diamonds": 2000}, headers=auth(prepared, creator)
        )
        assert problem(r) == (409, "below-minimum")
        assert (r.json()["minimum_diamonds"], r.json()["rates_version"]) == (2500, RATES + 1)
        r = await ask(client, prepared, creator, 2499, rates_version=RATES + 1)
        assert problem(r) == (409, "below-minimum")
        r = await ask(client, prepared, creator, 2500, rates_version=RATES + 1)
        assert r.status_code == 201, r.text
    finally:
        app[1].state.config = config
    assert (await earnings(client, prepared, creator))["pending"] == 2500


async def test_a_quote_refuses_what_a_request_would(client, prepared, pools):
    creator = await creator_with(client, prepared, pools["payout"], 0, method=None)
    for params, want in [
        ({"diamonds": 1999}, (409, "below-minimum")),
        ({"diamonds": 300_000}, (409, "daily-cap-exceeded")),
        ({"diamonds": 2000, "currency": "XYZ"}, (422, "validation-error")),
    ]:
        r = await client.get("/v1/payouts/quote", params=params, headers=auth(prepared, creator))
        assert problem(r) == want, r.text
    r = await client.get(
        "/v1/payouts/quote", params={"diamonds": 2000}, headers=auth(prepared, creator)
    )
    assert r.json()["amount"] == {"amount_minor": 1000, "currency": "USD"}  # none on file: USD
