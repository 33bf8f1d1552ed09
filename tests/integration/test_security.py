"""Trying to break authentication on every service: forged, expired, mis-addressed,
algorithm-swapped and unpublished-key tokens, every non-public route called without one, and every admin route
called by a valid user who is not an admin."""

import base64
import json
import time

import jwt
import pytest

from eventkit.auth import dev_signer, mint_token, public_jwk
from services.gifting.api import create as gifting
from services.payout.api import create as payout
from services.projections.api import create as projections
from services.recharge.api import create as recharge
from tests.support.apps import api_client
from tests.support.tokens import claims, new_key, signed

APPS = {"recharge": recharge, "gifting": gifting, "payout": payout, "projections": projections}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/v1/catalog",
    "/v1/gifts/catalog",
    "/v1/items/{item_id}",
    "/v1/live-events/{live_event_id}",  # what a ticket costs, like an item's page
    "/v1/creators/{creator_id}/subscription-price",  # what a month costs
    "/v1/creators/{creator_id}/subscribers/{fan_id}",  # a fan's badge, shown on streams
    "/oauth/jwks",  # the keys that verify partner tokens, public as every JWKS is
    # Partner clients authenticate by client credentials (RFC 6749 §2.3), their refusal is
    # RFC 6749's invalid_client (test_partners: test_the_token_endpoint_speaks_rfc_6749).
    "/oauth/token",
}
# Provider callbacks authenticate by signature, not by bearer token.
SIGNED = ("/v1/webhooks/", "/v1/callbacks/")


def forged_tokens(settings) -> dict[str, str]:
    key, kid = dev_signer(settings)  # the key the services' JWKS publishes

    def sign(payload, algorithm="EdDSA", secret=key):
        return jwt.encode(payload, secret, algorithm=algorithm, headers={"kid": kid})

    good = mint_token(settings, "mallory")
    header, payload, sig = good.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["sub"] = "victim"
    tampered_payload = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    public_x = public_jwk(key)["x"]  # anyone can key an HMAC with the published key
    return {
        "alg none": f"{none_header}.{payload}.",
        "HS256 with any secret": sign(claims(settings), "HS256", "x" * 64),
        "HS512 keyed with the public key": sign(claims(settings), "HS512", public_x),
        "unpublished key": signed(new_key(), claims(settings)),
        "unpublished key, published kid": signed(new_key(), claims(settings), kid=kid),
        "expired": sign(claims(settings, exp=int(time.time()) - 5)),
        "wrong audience": sign(claims(settings, aud="other-app")),
        "wrong issuer": sign(claims(settings, iss="evil")),
        "no expiry": sign({k: v for k, v in claims(settings).items() if k != "exp"}),
        "tampered subject": f"{header}.{tampered_payload.decode()}.{sig}",
        "garbage": "not.a.token",
        # Signed with the published key, but naming no one a token may name.
        **{f"subject {sub!r}": sign(claims(settings, sub=sub)) for sub in BAD_SUBJECTS},
        "roles as a string": sign(claims(settings, roles="admin")),
        "country not a code": sign(claims(settings, country="usa")),
    }


# Empty, blank, padded, with a control character, or an id the code reserves for itself.
BAD_SUBJECTS = ["", " ", "\t", " fan-1", "fan 1", "a\x00b", "platform", "Platform", "x" * 129]


def protected_routes(app) -> list[tuple[str, str]]:
    """Every documented operation that is neither public nor signature-authenticated."""
    return [
        (method.upper(), path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if path not in PUBLIC and not path.startswith(SIGNED)
    ]


@pytest.mark.parametrize("service", APPS)
async def test_every_protected_route_refuses_missing_and_forged_tokens(prepared, service):
    async with api_client(APPS[service], prepared) as client:
        routes = protected_routes(client._transport.app)
        assert routes, "expected protected routes"
        for method, path in routes:
            url = path.replace("{", "").replace("}", "")
            r = await client.request(method, url, json={}, headers={"Idempotency-Key": "k"})
            assert r.status_code == 401, f"{method} {path} without a token: {r.status_code}"
            assert r.headers["www-authenticate"] == "Bearer"
            for name, token in forged_tokens(prepared).items():
                r = await client.request(
                    method,
                    url,
                    json={},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
                )
                assert r.status_code == 401, f"{method} {path} accepted a token with {name}"


async def test_a_token_with_an_empty_subject_buys_nothing(prepared, pools):
    """The outside run's case: `"sub": ""` got 202 from POST /v1/purchases."""
    key, kid = dev_signer(prepared)
    token = jwt.encode(claims(prepared, sub=""), key, "EdDSA", headers={"kid": kid})
    async with api_client(recharge, prepared) as client:
        r = await client.post(
            "/v1/purchases",
            json={"bundle_id": "coins_70"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
        )
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthorized"), r.text
    assert "claim sub" in r.json()["detail"]
    assert (
        await pools["recharge"].fetchval("SELECT count(*) FROM purchases WHERE user_id = ''") == 0
    )


@pytest.mark.parametrize("sub", BAD_SUBJECTS)
def test_the_dev_minter_refuses_subjects_no_token_check_accepts(prepared, sub):
    with pytest.raises(ValueError):
        mint_token(prepared, sub)


@pytest.mark.parametrize("service", ["recharge", "gifting", "payout"])  # the ones taking bodies
async def test_oversized_bodies_are_refused_before_parsing(prepared, service):
    async with api_client(APPS[service], prepared) as client:
        method, path = next(
            (m, p) for m, p in protected_routes(client._transport.app) if m in ("POST", "PUT")
        )
        r = await client.request(
            method,
            path.replace("{", "").replace("}", ""),
            content=b"{" + b" " * prepared.max_body_bytes + b"}",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["type"].endswith("/payload-too-large")


@pytest.mark.parametrize("service", ["recharge", "gifting", "payout"])
async def test_admin_routes_refuse_valid_tokens_without_the_admin_role(prepared, service):
    async with api_client(APPS[service], prepared) as client:
        routes = [
            (m, p) for m, p in protected_routes(client._transport.app) if p.startswith("/v1/admin/")
        ]
        assert routes, "expected admin routes"
        for roles in ([], ["creator"], ["moderator", "support"]):
            token = mint_token(prepared, "mallory", roles=roles)
            for method, path in routes:
                r = await client.request(
                    method,
                    path.replace("{", "").replace("}", ""),
                    json={},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
                )
                assert r.status_code == 403, f"{method} {path} with roles {roles}: {r.status_code}"
                assert r.json()["type"].endswith("/forbidden"), r.json()
