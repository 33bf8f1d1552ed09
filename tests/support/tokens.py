"""Playing the identity provider in tests: Ed25519 keys, a JWKS file published and edited the
way a provider rotates its keys, and tokens signed by any of its keys (or by none of them)."""

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventkit import auth
from eventkit.settings import Settings


class Provider:
    """An identity provider's JWKS at `path` (a file:// URL, as PyJWKClient reads it)."""

    def __init__(self, path: Path):
        self.path = path
        self.published: list[Ed25519PrivateKey] = []

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    def publish(self, *keys: Ed25519PrivateKey) -> None:
        """Replaces the JWKS with these keys' public halves."""
        self.published = list(keys)
        jwks = {"keys": [auth.public_jwk(k) for k in keys]}
        draft = self.path.with_suffix(".tmp")
        draft.write_text(json.dumps(jwks))
        draft.replace(self.path)

    def settings(self, base: Settings, **over: Any) -> Settings:
        return base.model_copy(update={"jwt_jwks_url": self.url, **over})


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def claims(settings: Settings, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "mallory",
        "roles": ["admin"],
        "country": "US",
        "birthdate": "1990-01-01",
        "iat": now,
        "exp": now + 600,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        **over,
    }


def signed(
    key: Ed25519PrivateKey, payload: dict[str, Any], kid: str | None = None, **headers: Any
) -> str:
    """`payload` signed by `key` (EdDSA), its kid `kid` (default: the key's own)."""
    kid = auth.public_jwk(key)["kid"] if kid is None else kid
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid, **headers})


def token(settings: Settings, key: Ed25519PrivateKey, user: str = "fan-1", **over: Any) -> str:
    return signed(key, claims(settings, sub=user, roles=["fan"], **over))
