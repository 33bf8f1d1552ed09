"""The cryptography of partner platforms: client secrets (random, kept as scrypt hashes),
consent tokens (random, kept as SHA-256), and partner access tokens (JWTs signed with
gifting's own Ed25519 partner key, never the identity provider's).

Signing keys: the secret `gifting_partner_signing_key` (eventkit.secrets: the environment
variable GIFTING_PARTNER_SIGNING_KEY, else the generated development file) holds one or more
keys separated by whitespace, each the one-line form of eventkit.auth.private_key. The first
signs; every one listed verifies and is published at GET /oauth/jwks. Rotation: put a new key
first, keep the old one after it until the tokens it signed have expired (TOKEN_SECONDS),
then drop it.
"""

import hashlib
import hmac
import secrets as random
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventkit import auth, secrets
from eventkit.settings import Settings
from services.gifting.partners_decide import AUDIENCE, ISSUER, AccessToken, access_token
from services.gifting.partners_errors import PartnerTokenInvalid

SIGNING_KEY = "gifting_partner_signing_key"  # the secret's name (eventkit.secrets)
ALGORITHM = "EdDSA"

# scrypt at n=2^14, r=8 (16 MiB, tens of milliseconds): the secret is 256 random bits, so the
# hash guards a leaked table against nothing guessable; the cost only slows a bulk attempt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def new_secret() -> str:
    return random.token_urlsafe(32)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or random.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        name, n, r, p, salt, digest = stored.split("$")
        found = hashlib.scrypt(
            secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return name == "scrypt" and hmac.compare_digest(found.hex(), digest)


def new_consent_token() -> str:
    return "pct_" + random.token_urlsafe(32)


def consent_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@lru_cache(maxsize=8)
def _keys(encoded: str) -> tuple[tuple[str, Ed25519PrivateKey], ...]:
    keys = tuple(auth.private_key(k) for k in encoded.split())
    if not keys:
        raise secrets.SecretMissing(f"{secrets.env_name(SIGNING_KEY)} holds no key")
    return tuple((auth.kid_of(auth.public_jwk(k)), k) for k in keys)


def signing_keys(settings: Settings) -> tuple[tuple[str, Ed25519PrivateKey], ...]:
    """(kid, key) of every partner key, the signing one first."""
    return _keys(secrets.secret(settings, SIGNING_KEY))


def jwks(settings: Settings) -> dict[str, list[dict[str, str]]]:
    return {"keys": [auth.public_jwk(key) for _, key in signing_keys(settings)]}


def mint(settings: Settings, claims: dict) -> str:
    kid, key = signing_keys(settings)[0]
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})


def verify(settings: Settings, token: str) -> AccessToken:
    """The token's claims when one of the partner keys signed it for the partner API; expiry
    is the caller's to judge (by the app's clock: partners_decide.token_refusal)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise PartnerTokenInvalid(f"invalid partner token: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise PartnerTokenInvalid(f"invalid partner token: only {ALGORITHM} is accepted")
    key = dict(signing_keys(settings)).get(str(header.get("kid")))
    if key is None:
        raise PartnerTokenInvalid("invalid partner token: no partner signing key has its kid")
    try:
        claims = jwt.decode(
            token,
            key.public_key(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"verify_exp": False, "require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise PartnerTokenInvalid(f"invalid partner token: {exc}") from None
    return access_token(claims)
