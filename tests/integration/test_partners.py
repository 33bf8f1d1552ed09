"""Partner platforms through the gifting API (in-process ASGI, real PostgreSQL): an admin
issues a client, the partner gets tokens, a user consents, the partner debits and credits;
every refusal records nothing; idempotent replays; the per-partner limit under concurrency;
secret and signing-key rotation; payout credits the revenue share."""

import asyncio
import base64
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from eventkit.auth import encode_private_key, mint_token
from schemas.envelope import Envelope
from services.gifting.api import create
from services.gifting.partners_tokens import SIGNING_KEY, signing_keys
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import consume
from tests.support.partners import (
    access_token,
    as_partner,
    basic,
    consent,
    credit_body,
    debit_body,
    register,
)
from tests.support.tokens import new_key
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def timed(prepared):
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


async def shop_and_fan(client, prepared, pools, coins=1000, **partner):
    """A registered partner, its access token, a funded fan and the fan's consent."""
    shop = await register(client, prepared, **partner)
    token = await access_token(client, shop)
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, coins)
    grant = await consent(client, prepared, fan, shop)
    return shop, token, fan, grant


async def balance(pools, user) -> int:
    return await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", user)


async def recorded(pools, partner_id) -> int:
    """Operations and events a partner left behind."""
    db = pools["gifting"]
    ops = await db.fetchval(
        "SELECT count(*) FROM partner_operations WHERE partner_id = $1", partner_id
    )
    events = await db.fetchval(
        "SELECT count(*) FROM events WHERE event_type LIKE 'PartnerCoins%'"
        " AND envelope->'data'->>'partner_id' = $1",
        partner_id,
    )
    assert ops == events
    return ops


def problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"https://coinstream.dev/problems/{code}", body
    return body


async def test_the_whole_flow_debit_credit_statement_and_events(client, prepared, pools):
    shop, token, fan, grant = await shop_and_fan(client, prepared, pools)
    assert grant["consent_token"].startswith("pct_") and grant["scopes"] == [
        "coins:debit",
        "coins:credit",
    ]

    r = await client.post(
        "/v1/partner/debits",
        json=debit_body(grant["consent_token"], 120),
        headers=as_partner(token),
    )
    assert r.status_code == 201, r.text
    debit = r.json()
    assert (debit["kind"], debit["coins"], debit["user_id"], debit["partner_coins"]) == (
        "debit",
        120,
        fan,
        84,  # 70% of 120
    )
    r = await client.post(
        "/v1/partner/credits",
        json=credit_body(grant["consent_token"], 15),
        headers=as_partner(token),
    )
    assert r.status_code == 201, r.text
    assert await balance(pools, fan) == 1000 - 120 + 15

    r = await client.get("/v1/wallet/statement", headers=auth(prepared, fan))
    kinds = [(e["kind"], e["delta"]) for e in r.json()["entries"]]
    assert kinds[:2] == [("partner_credit", 15), ("partner_debit", -120)]
    events = await pools["gifting"].fetch(
        "SELECT event_type, stream_id, envelope->'data' AS data FROM events"
        " WHERE envelope->'data'->>'partner_id' = $1 ORDER BY envelope->>'time'",
        shop["partner_id"],
    )
    types = [e["event_type"] for e in events]
    assert types == [
        "PartnerClientIssued",
        "PartnerConsentGranted",
        "PartnerCoinsDebited",
        "PartnerCoinsCredited",
    ]
    debited = events[2]["data"]
    assert (debited["revenue_share_bp"], debited["user_id"], events[2]["stream_id"]) == (
        7000,
        fan,
        f"wallet-{fan}",
    )
    # the client's secret is nowhere but as its hash
    stored = await pools["gifting"].fetchval(
        "SELECT secret_hash FROM partner_clients WHERE partner_id = $1", shop["partner_id"]
    )
    assert stored.startswith("scrypt$") and shop["client_secret"] not in stored
    keys = await pools["gifting"].fetch(
        "SELECT response::text FROM idempotency_keys WHERE response::text LIKE $1",
        f"%{shop['client_secret']}%",
    )
    assert keys == []


async def test_the_token_endpoint_speaks_rfc_6749(client, prepared):
    shop = await register(client, prepared, scopes=("coins:debit",))
    form = {"grant_type": "client_credentials"}
    # form-field client authentication works as Basic does
    r = await client.post(
        "/oauth/token",
        data={**form, "client_id": shop["client_id"], "client_secret": shop["client_secret"]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "coins:debit")
    assert r.headers["cache-control"] == "no-store"
    header = jwt.get_unverified_header(body["access_token"])
    jwks = (await client.get("/oauth/jwks")).json()
    assert header["alg"] == "EdDSA" and header["kid"] in {k["kid"] for k in jwks["keys"]}

    def error(r, status, code):
        assert r.status_code == status, r.text
        assert r.json()["error"] == code

    wrong = basic(shop["client_id"], "not-the-secret")
    error(await client.post("/oauth/token", data=form, headers=wrong), 401, "invalid_client")
    unknown = basic("pc_nobody", shop["client_secret"])
    error(await client.post("/oauth/token", data=form, headers=unknown), 401, "invalid_client")
    good = basic(shop["client_id"], shop["client_secret"])
    error(
        await client.post("/oauth/token", data={"grant_type": "password"}, headers=good),
        400,
        "unsupported_grant_type",
    )
    error(
        await client.post("/oauth/token", data={**form, "scope": "coins:credit"}, headers=good),
        400,
        "invalid_scope",
    )
    error(await client.post("/oauth/token", data={}, headers=good), 400, "invalid_request")
    error(await client.post("/oauth/token", json=form, headers=good), 400, "invalid_request")


async def test_refusals_record_nothing(timed, client, prepared, pools):
    _, app = timed
    shop, token, fan, grant = await shop_and_fan(client, prepared, pools, coins=100)
    ct = grant["consent_token"]

    async def debit(headers, body=None):
        return await client.post(
            "/v1/partner/debits", json=body or debit_body(ct, 50), headers=headers
        )

    # no token, a user's token, garbage
    problem(
        await client.post("/v1/partner/debits", json=debit_body(ct)), 401, "partner-token-invalid"
    )
    user_token = mint_token(prepared, fan)
    problem(await debit(as_partner(user_token)), 401, "partner-token-invalid")
    # no consent: an unknown consent token, or another partner's consent
    problem(await debit(as_partner(token), debit_body("pct_nothing", 50)), 403, "consent-required")
    other = await register(client, prepared)
    other_token = await access_token(client, other)
    problem(await debit(as_partner(other_token)), 403, "consent-required")
    # wrong scope: in the token, then in the consent
    debit_only = await access_token(client, shop, scope="coins:debit")
    r = await client.post(
        "/v1/partner/credits", json=credit_body(ct), headers=as_partner(debit_only)
    )
    problem(r, 403, "partner-scope-missing")
    narrow = await consent(client, prepared, fan, shop, scopes=("coins:credit",))
    problem(
        await debit(as_partner(token), debit_body(narrow["consent_token"], 10)),
        403,
        "partner-scope-missing",
    )
    # over the consent's cap, insufficient coins
    capped = await consent(client, prepared, fan, shop, scopes=("coins:debit",), max_coins=30)
    problem(
        await debit(as_partner(token), debit_body(capped["consent_token"], 31)),
        403,
        "consent-limit",
    )
    problem(await debit(as_partner(token), debit_body(ct, 101)), 409, "insufficient-coins")
    # a user's own spending limit
    r = await client.put("/v1/spending-limits", json={"daily": 20}, headers=auth(prepared, fan))
    assert r.status_code == 200
    body = problem(await debit(as_partner(token), debit_body(ct, 21)), 403, "spending-limit-daily")
    assert body["rule"] == "limit-daily"
    # an expired token: issued 6 minutes ago by the app's clock
    app.state.clock = lambda: datetime.now(UTC) - timedelta(minutes=6)
    stale = await access_token(client, shop)
    app.state.clock = lambda: datetime.now(UTC)
    problem(await debit(as_partner(stale)), 401, "partner-token-expired")
    # a revoked consent
    r = await client.delete(
        f"/v1/partner-consents/{grant['consent_id']}", headers=auth(prepared, fan)
    )
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    problem(await debit(as_partner(token), debit_body(ct, 10)), 403, "consent-revoked")

    assert await recorded(pools, shop["partner_id"]) == 0
    assert await balance(pools, fan) == 100
    used = await pools["gifting"].fetchval(
        "SELECT coalesce(sum(coins), 0) FROM partner_days WHERE partner_id = $1", shop["partner_id"]
    )
    assert used == 0


async def test_replays_answer_the_stored_result_and_a_changed_body_is_refused(
    client, prepared, pools
):
    shop, token, fan, grant = await shop_and_fan(client, prepared, pools)
    headers = as_partner(token, key="order-1")
    body = debit_body(grant["consent_token"], 40)
    first = await client.post("/v1/partner/debits", json=body, headers=headers)
    again = await client.post("/v1/partner/debits", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    changed = await client.post("/v1/partner/debits", json={**body, "coins": 41}, headers=headers)
    problem(changed, 409, "idempotency-key-reused")
    assert await balance(pools, fan) == 960
    assert await recorded(pools, shop["partner_id"]) == 1
    # the consent replay answers the same consent, without its token
    key = str(uuid.uuid4())
    grant_body = {"partner_id": shop["partner_id"], "scopes": ["coins:debit"]}
    h = {**auth(prepared, fan), "Idempotency-Key": key}
    made = await client.post("/v1/partner-consents", json=grant_body, headers=h)
    replay = await client.post("/v1/partner-consents", json=grant_body, headers=h)
    assert made.json()["consent_token"] and replay.json()["consent_token"] is None
    assert made.json()["consent_id"] == replay.json()["consent_id"]


async def test_concurrent_operations_never_pass_the_partner_daily_limit_together(
    client, prepared, pools
):
    shop = await register(client, prepared, daily_coins=100)
    token = await access_token(client, shop)
    fans = [new_id("fan") for _ in range(5)]
    grants = []
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 1000)
        grants.append(await consent(client, prepared, fan, shop))
    sends = [
        client.post(
            "/v1/partner/debits",
            json=debit_body(grants[i % 5]["consent_token"], 10),
            headers=as_partner(token),
        )
        for i in range(30)
    ]
    responses = await asyncio.gather(*sends)
    accepted = [r for r in responses if r.status_code == 201]
    assert len(accepted) == 10
    refused = {r.json()["type"].rsplit("/", 1)[1] for r in responses if r.status_code != 201}
    assert refused == {"partner-limit-daily"}
    assert await recorded(pools, shop["partner_id"]) == 10
    spent = await pools["gifting"].fetchval(
        "SELECT -sum(delta) FROM wallet_ledger WHERE user_id = ANY($1) AND kind = 'partner_debit'",
        fans,
    )
    assert spent == 100


async def test_concurrent_debits_never_pass_a_consents_cap(client, prepared, pools):
    shop, token, fan, _ = await shop_and_fan(client, prepared, pools)
    capped = await consent(client, prepared, fan, shop, max_coins=50)
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/partner/debits",
                json=debit_body(capped["consent_token"], 10),
                headers=as_partner(token),
            )
            for _ in range(12)
        )
    )
    assert sum(r.status_code == 201 for r in responses) == 5
    assert await balance(pools, fan) == 950


async def test_a_rotated_secret_and_the_tokens_issued_under_it_stop_working(
    client, prepared, pools
):
    shop, token, fan, grant = await shop_and_fan(client, prepared, pools)
    admin = auth(prepared, "ops-1", roles=["admin"])
    r = await client.post(
        f"/v1/admin/partner-clients/{shop['partner_id']}/rotate",
        json={"secret_version": 1},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret_version"] == 2 and rotated["client_secret"] != shop["client_secret"]
    again = await client.post(
        f"/v1/admin/partner-clients/{shop['partner_id']}/rotate",
        json={"secret_version": 1},
        headers=auth(prepared, "ops-1", roles=["admin"]),
    )
    problem(again, 409, "secret-version-changed")

    r = await client.post(
        "/v1/partner/debits", json=debit_body(grant["consent_token"]), headers=as_partner(token)
    )
    problem(r, 401, "partner-secret-rotated")
    r = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(shop["client_id"], shop["client_secret"]),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    fresh = await access_token(client, {**shop, "client_secret": rotated["client_secret"]})
    r = await client.post(
        "/v1/partner/debits", json=debit_body(grant["consent_token"]), headers=as_partner(fresh)
    )
    assert r.status_code == 201, r.text


async def test_signing_key_rotation_new_key_signs_the_old_verifies_until_dropped(
    client, prepared, pools, monkeypatch
):
    shop, old_token, fan, grant = await shop_and_fan(client, prepared, pools)
    (old_kid, old_key), *_ = signing_keys(prepared)
    new = new_key()
    env = SIGNING_KEY.upper()
    monkeypatch.setenv(env, f"{encode_private_key(new)} {encode_private_key(old_key)}")

    jwks = (await client.get("/oauth/jwks")).json()["keys"]
    assert len(jwks) == 2 and jwks[1]["kid"] == old_kid
    new_token = await access_token(client, shop)
    assert jwt.get_unverified_header(new_token)["kid"] == jwks[0]["kid"] != old_kid
    for token in (old_token, new_token):
        r = await client.post(
            "/v1/partner/debits",
            json=debit_body(grant["consent_token"], 5),
            headers=as_partner(token),
        )
        assert r.status_code == 201, r.text

    monkeypatch.setenv(env, encode_private_key(new))  # the old key's tokens have expired
    r = await client.post(
        "/v1/partner/debits",
        json=debit_body(grant["consent_token"], 5),
        headers=as_partner(old_token),
    )
    problem(r, 401, "partner-token-invalid")


async def test_forged_partner_tokens_are_refused_on_every_partner_route(client, prepared, pools):
    shop, token, fan, grant = await shop_and_fan(client, prepared, pools)
    kid, key = signing_keys(prepared)[0]
    good = jwt.decode(token, options={"verify_signature": False})
    forged = {
        "unpublished key": jwt.encode(good, new_key(), "EdDSA", headers={"kid": kid}),
        "HS256": jwt.encode(good, "x" * 64, "HS256", headers={"kid": kid}),
        "wrong audience": jwt.encode(
            {**good, "aud": "coinstream"}, key, "EdDSA", headers={"kid": kid}
        ),
        "another partner named": jwt.encode(
            {**good, "partner_id": "nobody"}, new_key(), "EdDSA", headers={"kid": kid}
        ),
        "alg none": base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        + "."
        + token.split(".")[1]
        + ".",
        "a user token": mint_token(prepared, fan),
    }
    for route, body in (
        ("/v1/partner/debits", debit_body(grant["consent_token"])),
        ("/v1/partner/credits", credit_body(grant["consent_token"])),
    ):
        for name, bad in forged.items():
            r = await client.post(route, json=body, headers=as_partner(bad))
            assert r.status_code == 401, f"{route} accepted {name}: {r.text}"
    assert await recorded(pools, shop["partner_id"]) == 0


async def test_payout_credits_the_partner_its_revenue_share(client, prepared, pools):
    shop, token, fan, grant = await shop_and_fan(client, prepared, pools)
    for coins in (120, 35):
        r = await client.post(
            "/v1/partner/debits",
            json=debit_body(grant["consent_token"], coins),
            headers=as_partner(token),
        )
        assert r.status_code == 201
    rows = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE event_type = 'PartnerCoinsDebited'"
        " AND envelope->'data'->>'partner_id' = $1",
        shop["partner_id"],
    )
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    await consume(prepared, pools["payout"], *envelopes, *envelopes)  # delivered twice
    earned = await pools["payout"].fetchval(
        "SELECT earned FROM creators WHERE creator_id = $1", shop["partner_id"]
    )
    assert earned == 84 + 24  # floor(120 x 0.7) + floor(35 x 0.7), at 1 diamond per coin
    sources = await pools["payout"].fetch(
        "SELECT source, source_id FROM credits WHERE creator_id = $1", shop["partner_id"]
    )
    assert {s["source"] for s in sources} == {"partner"} and len(sources) == 2
