"""User tokens against the identity provider's JWKS, through a real service app: during a key
rotation tokens by the old and the new key both work while both are published; once the old
key is removed (and the JWKS cache has expired) its tokens get a 401 problem saying so; an
unknown kid, a missing kid and HMAC tokens, whatever their secret, are 401 too."""

import time

import jwt

from eventkit import auth
from services.projections.api import create
from tests.support.apps import api_client
from tests.support.tokens import Provider, claims, new_key, signed, token


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def refused(r, detail: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/unauthorized") and detail in body["detail"], body
    assert r.headers["www-authenticate"] == "Bearer"


async def test_two_keys_verify_during_a_rotation_and_the_removed_one_stops(prepared, tmp_path):
    provider = Provider(tmp_path / "jwks.json")
    old, new = new_key(), new_key()
    provider.publish(old)
    # Cooldown 0: the new kid's first token refreshes the JWKS at once (the default 30 s only
    # bounds how often unknown kids can make a service fetch it).
    settings = provider.settings(
        prepared, jwt_jwks_lifespan_seconds=0.5, jwt_jwks_cooldown_seconds=0
    )
    by_old, by_new = token(settings, old, "fan-old"), token(settings, new, "fan-new")
    async with api_client(create, settings) as client:
        assert (await client.get("/v1/wallet", headers=bearer(by_old))).status_code == 200
        refused(await client.get("/v1/wallet", headers=bearer(by_new)), "no published signing key")

        provider.publish(old, new)  # the provider adds its next key, then signs with it
        for both in (by_new, by_old):
            r = await client.get("/v1/wallet", headers=bearer(both))
            assert r.status_code == 200, r.text

        provider.publish(new)  # the old key's tokens have expired: it is removed
        time.sleep(0.6)  # the services' JWKS cache lifespan
        refused(await client.get("/v1/wallet", headers=bearer(by_old)), "no published signing key")
        assert (await client.get("/v1/wallet", headers=bearer(by_new))).status_code == 200


async def test_unknown_kids_and_symmetric_tokens_are_refused(prepared, tmp_path):
    provider = Provider(tmp_path / "jwks.json")
    key = new_key()
    provider.publish(key)
    settings = provider.settings(prepared)
    payload = claims(settings)
    published_kid = jwt.get_unverified_header(signed(key, payload))["kid"]
    public_x = auth.public_jwk(key)["x"]  # public: anyone can key an HMAC with it
    cases = {
        "unknown kid": (signed(new_key(), payload), "no published signing key"),
        "published kid, other key": (signed(new_key(), payload, kid=published_kid), "Signature"),
        "no kid": (jwt.encode(payload, key, algorithm="EdDSA"), "no kid"),
        "HS256, any secret": (
            jwt.encode(payload, "x" * 64, "HS256", headers={"kid": published_kid}),
            "algorithm 'HS256' is not accepted",
        ),
        "HS256 keyed with the published public key": (
            jwt.encode(payload, public_x, "HS256", headers={"kid": published_kid}),
            "algorithm 'HS256' is not accepted",
        ),
        "alg none": (
            jwt.encode(payload, "", "none", headers={"kid": published_kid}),
            "algorithm 'none' is not accepted",
        ),
    }
    async with api_client(create, settings) as client:
        assert (await client.get("/v1/wallet", headers=bearer(signed(key, payload)))).is_success
        for name, (value, detail) in cases.items():
            r = await client.get("/v1/wallet", headers=bearer(value))
            assert r.status_code == 401, f"{name}: {r.status_code}"
            refused(r, detail)
