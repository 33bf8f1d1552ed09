"""JWT bearer auth (HS256 pinned; expiry, audience and issuer checked) and dev token minting."""

import time
from datetime import date
from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from eventkit.problems import Forbidden, Unauthorized
from eventkit.settings import Settings
from schemas.money import Country
from schemas.text import Id

ALGORITHM = "HS256"

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
    Refuses (ValueError) a subject no token check would accept: empty, blank or reserved."""
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
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def _valid_subject(user_id: str) -> str:
    Caller(user_id=user_id)  # raises ValueError (a pydantic ValidationError)
    return user_id


_CLAIM = {"user_id": "sub"}  # Caller field -> the claim it comes from, where they differ


def verify(settings: Settings, token: str) -> Caller:
    caller, expires, not_before = _verified(
        token, settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer
    )
    now = time.time()
    if now >= expires:
        raise Unauthorized("invalid token: Signature has expired")
    if now < not_before:
        raise Unauthorized("invalid token: The token is not yet valid (nbf)")
    return caller


# A token is immutable, so the outcome of checking its signature and claims is too: kept per
# token (the whole string, signature included) for a fan's next requests in a gift storm, where
# checking it on every request costs a sixth of gifting-api's CPU. Only the time checks are
# redone on each use; a refused token raises and is never kept.
@lru_cache(maxsize=65536)
def _verified(token: str, secret: str, audience: str, issuer: str) -> tuple[Caller, float, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
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


_bearer = HTTPBearer(auto_error=False)


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    return verify(request.app.state.settings, credentials.credentials)


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
