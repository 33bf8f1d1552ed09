"""JWT bearer auth: user tokens signed by the identity provider with an asymmetric key
(EdDSA, ES256 or RS256, nothing else) and verified against the public keys it publishes as a
JWKS document (settings.jwt_jwks_url), so a service holds no key that could mint a token;
expiry, audience and issuer checked. Development minting (`mint_token`, `python -m
eventkit.auth USER`) signs with the dev private key `jwt_signing_key` and is refused in
production, where the identity provider mints.

Key rotation: the provider publishes the new key next to the old one, signs with the new key,
and removes the old one once no token it signed is still unexpired. A removed key stops
verifying within `jwt_jwks_lifespan_seconds` (the JWKS cache; a cached token verdict never
outlives its key, see verify); a token whose kid is not in the cached JWKS makes one refresh,
at most one per `jwt_jwks_cooldown_seconds`, so a new key is picked up at once.
"""

import base64
import hashlib
import json
import time
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKSetError
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from eventkit import secrets
from eventkit.problems import Forbidden, ServiceUnavailable, Unauthorized
from eventkit.settings import Settings
from schemas.money import Country
from schemas.text import Id

# The only algorithms a token may use: asymmetric ones, so holding the verifying key does not
# let anyone sign. Never "none", never HS* (an HMAC "signed" with the public key would pass).
ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
MINTING_ALGORITHM = "EdDSA"
SIGNING_KEY = "jwt_signing_key"  # the dev minting key's secret name (eventkit.secrets)

# Ids the code itself uses as owners or sentinels, so no user may sign in as one: `platform`
# owns the platform's items in gifting (and its unlocks earn no creator anything in payout).
# Compared case-insensitively, so `Platform` cannot pass for it in a log or a support screen.
RESERVED_IDS = frozenset({"platform"})


def not_reserved(user_id: str) -> str:
    if user_id.casefold() in RESERVED_IDS:
        raise ValueError(f"{user_id!r} is a reserved id")
    return user_id


# A user id as a token may carry it: a valid Id (1-128 characters, no whitespace or control
# characters, so never empty or blank) that is not reserved.
UserId = Annotated[Id, AfterValidator(not_reserved)]


class Caller(BaseModel):
    """The authenticated user, from verified token claims; a claim that does not fit makes
    the token invalid (401). Frozen: one verified token's Caller serves all its requests."""

    model_config = ConfigDict(frozen=True)

    user_id: UserId
    roles: frozenset[Id] = frozenset()
    country: Country | None = None
    birthdate: date | None = None
    account_type: Id = "personal"

    def has(self, role: str) -> bool:
        return role in self.roles


def mint_token(
    settings: Settings,
    user_id: str,
    roles: list[str] | None = None,
    country: str | None = "US",
    birthdate: str | None = "1990-01-01",
    account_type: str = "personal",
    ttl_seconds: int = 3600,
) -> str:
    """A signed token for development, tests and the demo (`python -m eventkit.auth USER`).
    Refuses (ValueError) a subject no token check would accept: empty, blank or reserved; and
    refuses (MintingRefused) in production, where only the identity provider mints."""
    if settings.production:
        raise MintingRefused(
            "tokens are minted by the identity provider in production (COINSTREAM_ENV)"
        )
    now = int(time.time())
    claims = {
        "sub": _valid_subject(user_id),
        "roles": roles or ["fan"],
        "country": country,
        "birthdate": birthdate,
        "account_type": account_type,
        "iat": now,
        "exp": now + ttl_seconds,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
    }
    key, kid = dev_signer(settings)
    return jwt.encode(claims, key, algorithm=MINTING_ALGORITHM, headers={"kid": kid})


class MintingRefused(RuntimeError):
    """Development minting asked for in production."""


def dev_signer(settings: Settings) -> tuple[Ed25519PrivateKey, str]:
    """The development minting key (secret `jwt_signing_key`) and its kid."""
    return _signer(secrets.secret(settings, SIGNING_KEY))


@lru_cache(maxsize=8)
def _signer(encoded: str) -> tuple[Ed25519PrivateKey, str]:
    key = private_key(encoded)
    return key, kid_of(public_jwk(key))


def private_key(encoded: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from its one-line form: base64url of the raw 32 bytes."""
    return Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(encoded + "=="))


def encode_private_key(key: Ed25519PrivateKey) -> str:
    return _b64url(key.private_bytes_raw())


def public_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    """The public half as a JWK (RFC 8037), kid = its RFC 7638 thumbprint."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(key.public_key().public_bytes_raw())}
    return {**jwk, "kid": kid_of(jwk), "alg": MINTING_ALGORITHM, "use": "sig"}


def kid_of(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 of its required members, in order."""
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    return _b64url(hashlib.sha256(members.encode()).digest())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _valid_subject(user_id: str) -> str:
    Caller(user_id=user_id)  # raises ValueError (a pydantic ValidationError)
    return user_id


_CLAIM = {"user_id": "sub"}  # Caller field -> the claim it comes from, where they differ


def verify(settings: Settings, token: str) -> Caller:
    key = signing_key(settings, token)
    caller, expires, not_before = _verified(token, key, settings.jwt_audience, settings.jwt_issuer)
    now = time.time()
    if now >= expires:
        raise Unauthorized("invalid token: Signature has expired")
    if now < not_before:
        raise Unauthorized("invalid token: The token is not yet valid (nbf)")
    return caller


def jwks_url(settings: Settings) -> str:
    """Where the token-verifying public keys are: JWT_JWKS_URL, else the dev JWKS file."""
    return settings.jwt_jwks_url or _dev_jwks(settings.secrets_dir)


@lru_cache(maxsize=8)
def _dev_jwks(secrets_dir: Path) -> str:
    return (secrets_dir / "jwks.json").resolve().as_uri()


def signing_key(settings: Settings, token: str) -> PyJWK:
    """The published key the token names by its kid, looked up in the JWKS on every use, so a
    key removed from the JWKS stops verifying once the cached JWKS expires."""
    algorithm, kid = _header(token)
    if algorithm not in ALGORITHMS:
        raise Unauthorized(
            f"invalid token: algorithm {algorithm!r} is not accepted "
            f"(only {', '.join(sorted(ALGORITHMS))})"
        )
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("invalid token: no kid in the header")
    client = _client(
        jwks_url(settings), settings.jwt_jwks_lifespan_seconds, settings.jwt_jwks_cooldown_seconds
    )
    try:
        key = client.get_signing_key(kid)
    except (PyJWKClientConnectionError, PyJWKSetError) as exc:
        # The JWKS is unreachable or holds no usable key: not the caller's fault (503).
        raise ServiceUnavailable(f"the token signing keys cannot be fetched: {exc}") from None
    except jwt.PyJWTError:
        raise Unauthorized(f"invalid token: no published signing key has kid {kid!r}") from None
    if key.algorithm_name != algorithm:
        raise Unauthorized(f"invalid token: key {kid!r} does not sign with {algorithm}")
    return key


@lru_cache(maxsize=65536)
def _header(token: str) -> tuple[Any, Any]:
    """The (alg, kid) a token's header names, unverified: they only choose the key to try."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    return header.get("alg"), header.get("kid")


class JWKSClient(PyJWKClient):
    """PyJWKClient that also reads a file:// JWKS (the dev one, or a file mounted from a
    deployment's secrets). PyJWKClient refuses any scheme but http(s) so that a URL taken from
    a token (`jku`) cannot read local files; this URL comes from the settings, never a token."""

    def __init__(self, url: str, **options: Any):
        parts = urlsplit(url)
        self.path = Path(url2pathname(parts.path)) if parts.scheme == "file" else None
        super().__init__(url if self.path is None else "https://jwks.file.invalid/", **options)
        self.uri = url

    def fetch_data(self) -> Any:
        if self.path is None:
            return super().fetch_data()
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise PyJWKClientConnectionError(f"cannot read {self.path}: {exc}") from None
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(self._as_jwk_set_payload(data))
        return data


@lru_cache(maxsize=16)
def _client(url: str, lifespan: float, cooldown: float) -> JWKSClient:
    # One client (and JWKS cache) per JWKS for the process; a short timeout, as a fetch blocks
    # the request that triggers it (once per lifespan, or per cooldown for unknown kids).
    return JWKSClient(url, lifespan=lifespan, cooldown_duration=cooldown, timeout=5)


# A token is immutable, so the outcome of checking its signature and claims against one key is
# too: kept per (token, key) for a fan's next requests in a gift storm, where checking it on
# every request costs a sixth of gifting-api's CPU. The key is the PyJWK object of the JWKS as
# fetched, so a refreshed JWKS checks each token once more, and a key no longer published is
# refused before this cache is consulted (signing_key): a cached verdict never outlives its
# key by more than the JWKS cache lifespan. The time checks are redone on each use; a refused
# token raises and is never kept.
@lru_cache(maxsize=65536)
def _verified(token: str, key: PyJWK, audience: str, issuer: str) -> tuple[Caller, float, float]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            audience=audience,
            issuer=issuer,
            options={"require": ["sub", "exp", "aud", "iss"]},
        )
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            raise ValueError("roles must be a list")
        caller = Caller(
            user_id=claims["sub"],
            roles=frozenset(roles),
            country=claims.get("country"),
            birthdate=claims.get("birthdate"),
            account_type=claims.get("account_type") or "personal",
        )
        return caller, float(claims["exp"]), float(claims.get("nbf", 0))
    except ValidationError as exc:
        fields = [(str(e["loc"][0]), e["msg"]) for e in exc.errors()]
        bad = "; ".join(f"claim {_CLAIM.get(name, name)}: {msg}" for name, msg in fields)
        raise Unauthorized(f"invalid token: {bad}") from None
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise Unauthorized(f"invalid token: {exc}") from None


class BearerCaller(HTTPBearer):
    """The verified caller of a request, as one FastAPI dependency: OpenAPI documents it as the
    `HTTPBearer` scheme (it is one), and FastAPI resolves one dependency per request instead of
    a route function over an HTTPBearer (two, each with its own per-request bookkeeping)."""

    def __init__(self) -> None:
        super().__init__(scheme_name="HTTPBearer", auto_error=False)

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        # As HTTPBearer reads it: "<scheme> <credentials>", the scheme in any case.
        scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
        if not (scheme and credentials) or scheme.lower() != "bearer":
            raise Unauthorized("missing bearer token")
        return verify(request.app.state.settings, credentials)


current_caller = BearerCaller()


async def require_admin(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if not caller.has("admin"):
        raise Forbidden("admin role required")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
# Security with a scope, so the OpenAPI requirement names the role (and documents its 403).
AdminDep = Annotated[Caller, Security(require_admin, scopes=["admin"])]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Mint a development bearer token")
    parser.add_argument("user_id")
    parser.add_argument("--roles", default="fan", help="comma-separated, e.g. fan,creator,admin")
    parser.add_argument("--country", default="US")
    parser.add_argument("--birthdate", default="1990-01-01")
    parser.add_argument("--ttl", type=int, default=86400)
    a = parser.parse_args()
    print(
        mint_token(
            Settings(), a.user_id, a.roles.split(","), a.country, a.birthdate, ttl_seconds=a.ttl
        )
    )
