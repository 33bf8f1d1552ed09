"""Every route of recharge, payout and projections against input the OpenAPI document does not
allow: a number sent as a string (or with a fraction, or a boolean), a query integer written "5.0", a
time given as a number or without an offset, an empty, blank or reserved id, and NUL in text
(PostgreSQL cannot store it). Each gets a 422 problem and changes nothing; none is a 500."""

import uuid

import orjson
import pytest

from eventkit.webhooks import SIGNATURE_HEADER, sign
from services.payout.api import create as payout
from services.payout.settings import PayoutSettings
from services.projections.api import create as projections
from services.recharge.api import create as recharge
from services.recharge.settings import RechargeSettings
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import fund_creator

BANK = {"kind": "bank", "account_holder": "Ada", "iban": "DE89370400440532013000"}


def refused(r, field: str | None = None) -> None:
    """A 422 validation problem; when `field` is given, it is the field blamed."""
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/validation-error"), r.text
    if field:
        assert {e["loc"][1] for e in r.json()["errors"]} == {field}, r.text


# --- payout ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def payout_http(prepared):
    async with api_client(payout, prepared) as client:
        yield client


@pytest.mark.parametrize(
    "body, field",
    [
        ({"diamonds": "2000", "rates_version": 1}, "diamonds"),  # the outside run's case: 201
        ({"diamonds": 2000.5, "rates_version": 1}, "diamonds"),
        ({"diamonds": True, "rates_version": 1}, "diamonds"),
        ({"diamonds": 2000, "rates_version": "1"}, "rates_version"),
        ({"diamonds": 2000, "rates_version": 1.5}, "rates_version"),
        ({"diamonds": 2000}, "rates_version"),  # the rates version shown is required
        ({"diamonds": 2000, "rates_version": 0}, "rates_version"),
        ({"diamonds": 2000, "rates_version": 53081207104082596245536768}, "rates_version"),  # a 500
    ],
)
async def test_payout_amounts_are_json_integers(payout_http, prepared, pools, body, field):
    creator = new_id("cr")
    await fund_creator(prepared, pools["payout"], creator, 5000)
    r = await payout_http.put("/v1/payout-method", json=BANK, headers=auth(prepared, creator))
    assert r.status_code == 200, r.text
    refused(
        await payout_http.post("/v1/payouts", json=body, headers=auth(prepared, creator)), field
    )
    r = await payout_http.get("/v1/earnings", headers=auth(prepared, creator))
    assert (r.json()["pending"], r.json()["available"]) == (0, 5000)


@pytest.mark.parametrize(
    "method",
    [
        {**BANK, "account_holder": "Ada\x00"},
        {**BANK, "account_holder": "   "},
        {"kind": "paypal", "email": "ada\x00@example.com"},
        {"kind": "paypal", "email": "ada@exa\x01mple.com"},
        {**BANK, "currency": "EU\x00"},
    ],
)
async def test_payout_method_text_has_no_nul_and_is_not_blank(payout_http, prepared, pools, method):
    creator = new_id("cr")
    refused(
        await payout_http.put("/v1/payout-method", json=method, headers=auth(prepared, creator))
    )
    assert (
        await pools["payout"].fetchval(
            "SELECT count(*) FROM payout_methods WHERE creator_id = $1", creator
        )
        == 0
    )


@pytest.mark.parametrize("query", ["days=1.5", "days=30.0", "days=%2030", "days=3_0"])
async def test_payout_earnings_days_is_a_plain_integer(payout_http, prepared, query):
    refused(await payout_http.get(f"/v1/earnings?{query}", headers=auth(prepared, new_id("cr"))))


@pytest.mark.parametrize(
    "query",
    ["diamonds=2000.0", "diamonds=2e3", "diamonds=", "diamonds=-5", "diamonds=2000&currency=eur"],
)
async def test_payout_quote_takes_plain_integers(payout_http, prepared, query):
    refused(
        await payout_http.get(f"/v1/payouts/quote?{query}", headers=auth(prepared, new_id("cr")))
    )


@pytest.mark.parametrize("detail", ["documents\x00missing", "   ", ""])
async def test_payout_rejection_detail_has_no_nul_and_is_not_blank(
    payout_http, prepared, pools, detail
):
    creator = new_id("cr")
    await fund_creator(prepared, pools["payout"], creator, 150_000)
    assert (
        await payout_http.put("/v1/payout-method", json=BANK, headers=auth(prepared, creator))
    ).status_code == 200
    r = await payout_http.post(
        "/v1/payouts",
        json={"diamonds": 120_000, "rates_version": 1},
        headers=auth(prepared, creator),
    )
    assert r.status_code == 201 and r.json()["status"] == "review", r.text
    pid = r.json()["payout_id"]
    refused(
        await payout_http.post(
            f"/v1/admin/payouts/{pid}/reject",
            json={"detail": detail},
            headers=auth(prepared, "ops-1", roles=["admin"]),
        )
    )
    assert (
        await pools["payout"].fetchval(
            "SELECT status FROM payouts WHERE payout_id = $1", uuid.UUID(pid)
        )
        == "review"
    )


def signed(secret: str, body: dict) -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps(body)
    return raw, {SIGNATURE_HEADER: sign(secret, raw), "content-type": "application/json"}


@pytest.mark.parametrize(
    "over", [{"detail": "closed\x00"}, {"provider_ref": "sbx \x00"}, {"provider_ref": ""}]
)
async def test_a_signed_callback_with_text_postgresql_cannot_store_is_refused(payout_http, over):
    raw, headers = signed(
        PayoutSettings().callback_secret,
        {
            "event_id": str(uuid.uuid4()),
            "payout_id": str(uuid.uuid4()),
            "provider_ref": "sbx-1",
            "outcome": "failed",
            "detail": "x",
            **over,
        },
    )
    r = await payout_http.post("/v1/callbacks/sandbox", content=raw, headers=headers)
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (422, "bad-callback"), r.text


# --- recharge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over", [{"detail": "chargeback\x00"}, {"event_id": "evt 1"}, {"provider_txn_id": "sbx\x00"}]
)
async def test_a_signed_webhook_with_text_postgresql_cannot_store_is_refused(recharge_http, over):
    raw, headers = signed(
        RechargeSettings().webhook_secret,
        {
            "event_id": "evt_1",
            "type": "payment.reversed",
            "provider_txn_id": "sbx_1",
            "purchase_id": str(uuid.uuid4()),
            "amount": {"amount_minor": 99, "currency": "USD"},
            "reason_code": "chargeback",
            "detail": "x",
            "created_at": "2026-11-26T08:00:00Z",
            **over,
        },
    )
    r = await recharge_http.post("/v1/webhooks/sandbox", content=raw, headers=headers)
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (422, "bad-webhook"), r.text


@pytest.mark.parametrize(
    "over",
    [
        {"amount": {"amount_minor": "99", "currency": "USD"}},
        {"amount": {"amount_minor": True, "currency": "USD"}},
        {"amount": {"amount_minor": 99.5, "currency": "USD"}},
        {"created_at": 1764144000},  # a number read as a Unix time
        {"created_at": "2026-11-26T08:00:00"},  # no offset
    ],
)
async def test_a_signed_webhook_takes_amounts_and_times_as_documented(recharge_http, over):
    """Signed is not well-formed: a provider that sends its amount as text (or its time as a
    number) is refused like any other malformed notification, before the purchase is looked
    at."""
    raw, headers = signed(
        RechargeSettings().webhook_secret,
        {
            "event_id": "evt_1",
            "type": "payment.succeeded",
            "provider_txn_id": "sbx_1",
            "purchase_id": str(uuid.uuid4()),
            "amount": {"amount_minor": 99, "currency": "USD"},
            "created_at": "2026-11-26T08:00:00Z",
            **over,
        },
    )
    r = await recharge_http.post("/v1/webhooks/sandbox", content=raw, headers=headers)
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (422, "bad-webhook"), r.text


@pytest.fixture(scope="module")
async def recharge_http(prepared):
    async with api_client(recharge, prepared) as client:
        yield client


GOOD_BAN = {"user_id": "fan-1", "scopes": ["buy"], "reason": "chargeback abuse"}


@pytest.mark.parametrize(
    "over",
    [
        {"user_id": ""},
        {"user_id": " "},
        {"user_id": "fan 1"},
        {"user_id": "fan\x00"},
        {"user_id": "platform"},  # reserved: no user can be it
        {"user_id": 12345},
        {"reason": "spam\x00"},
        {"reason": "   "},
        {"expires_at": 4102444800},  # a number read as a Unix time
        {"expires_at": "2100-01-01T00:00:00"},  # no offset
        {"expires_at": "2100-01-01"},
    ],
)
async def test_ban_bodies_take_ids_text_and_times_as_documented(
    recharge_http, prepared, pools, over
):
    body = {**GOOD_BAN, "user_id": new_id("fan"), **over}
    r = await recharge_http.post(
        "/v1/admin/bans", json=body, headers=auth(prepared, "ops-1", roles=["admin"])
    )
    refused(r)
    user = body["user_id"] if isinstance(body["user_id"], str) else str(body["user_id"])
    assert (
        await pools["recharge"].fetchval(
            "SELECT count(*) FROM bans WHERE user_id = $1", user.replace("\x00", "")
        )
        == 0
    )


async def test_ban_lift_and_listing_take_ids_and_text_as_documented(recharge_http, prepared):
    admin = auth(prepared, "ops-1", roles=["admin"])
    r = await recharge_http.post(
        "/v1/admin/bans", json={**GOOD_BAN, "user_id": new_id("fan")}, headers=admin
    )
    assert r.status_code == 201, r.text
    ban_id = r.json()["ban_id"]
    refused(
        await recharge_http.post(
            f"/v1/admin/bans/{ban_id}/lift", json={"reason": "appeal\x00"}, headers=admin
        )
    )
    refused(
        await recharge_http.post(
            f"/v1/admin/bans/{ban_id}/lift", json={"reason": " "}, headers=admin
        )
    )
    refused(
        await recharge_http.post(
            "/v1/admin/bans/ban%00x/lift", json={"reason": "ok"}, headers=admin
        )
    )
    for user in ("", "%20", "a%00b"):
        refused(await recharge_http.get(f"/v1/admin/bans?user_id={user}", headers=admin))
    listed = await recharge_http.get(
        "/v1/admin/bans", params={"user_id": r.json()["user_id"]}, headers=admin
    )
    assert [b["ban_id"] for b in listed.json()["bans"]] == [ban_id], listed.text
    r = await recharge_http.post(
        f"/v1/admin/bans/{ban_id}/lift", json={"reason": "appeal"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["lifted_at"] is not None, r.text


@pytest.mark.parametrize("query", ["limit=5.0", "limit=%205", "limit=5_0", "limit=1e1"])
async def test_purchase_listing_limit_is_a_plain_integer(recharge_http, prepared, query):
    refused(
        await recharge_http.get(f"/v1/purchases?{query}", headers=auth(prepared, new_id("fan")))
    )


@pytest.mark.parametrize(
    "body",
    [
        {"custom_coins": "100"},
        {"custom_coins": 100.5},
        {"custom_coins": True},
        {"bundle_id": "coins_70", "payment_method": "sandbox_success\x00"},
    ],
)
async def test_purchase_amounts_are_json_integers(recharge_http, prepared, body):
    refused(
        await recharge_http.post("/v1/purchases", json=body, headers=auth(prepared, new_id("fan")))
    )


# --- projections ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def read_http(prepared):
    async with api_client(projections, prepared) as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/v1/wallet/statement?before=0.5",  # the outside run's case: it got 200
        "/v1/wallet/statement?before=1700000000",
        "/v1/wallet/statement?before=2026-01-01",
        "/v1/wallet/statement?before=2026-01-01T00:00:00",
        "/v1/wallet/statement?limit=5.0",
        "/v1/wallet/statement?limit=%205",
        "/v1/earnings?days=1.5",
        "/v1/streams/stream-1/leaderboard?limit=10.0",
        "/v1/streams/a%00b/leaderboard",
        "/v1/streams/a%20b/leaderboard",
    ],
)
async def test_read_api_parameters_are_what_the_document_says(read_http, prepared, path):
    refused(await read_http.get(path, headers=auth(prepared, new_id("cr"), roles=["creator"])))


async def test_statement_pages_on_an_rfc3339_time(read_http, prepared):
    headers = auth(prepared, new_id("fan"))
    for before in (
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.5+09:00",
        # RFC 3339 allows these, and they lie outside Python's datetime in UTC
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
    ):
        r = await read_http.get(
            "/v1/wallet/statement", params={"before": before, "limit": "5"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["lines"] == [], r.text
