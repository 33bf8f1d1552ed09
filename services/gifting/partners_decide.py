"""The pure rules of partner platforms: which scopes a token gets, what an access token says
and when it is refused, what a consent lets a partner do, and the partner's daily limit."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventkit.problems import DomainError
from services.gifting.partners_errors import (
    ConsentLimitReached,
    ConsentRequired,
    ConsentRevoked,
    PartnerLimitReached,
    PartnerSecretRotated,
    PartnerTokenExpired,
    PartnerTokenInvalid,
    ScopeNotGranted,
)

DEBIT, CREDIT = "coins:debit", "coins:credit"
SCOPES = (DEBIT, CREDIT)
TOKEN_SECONDS = 300  # an access token's life: short, so a revoked client is out within it
ISSUER = "coinstream-gifting"
AUDIENCE = "coinstream-partner-api"  # never a user token's audience, nor the reverse


@dataclass(frozen=True)
class Client:
    partner_id: str
    client_id: str
    scopes: tuple[str, ...]
    revenue_share_bp: int
    daily_coins: int
    secret_version: int


def granted_scopes(requested: str | None, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    """RFC 6749 §3.3: a space-delimited list; none asked: every scope the client has. None
    when any asked for is not the client's (the token endpoint's `invalid_scope`)."""
    if requested is None or not requested.strip():
        return allowed
    asked = tuple(dict.fromkeys(requested.split(" ")))
    if "" in asked or not set(asked) <= set(allowed):
        return None
    return tuple(s for s in SCOPES if s in asked)


@dataclass(frozen=True)
class AccessToken:
    """What a verified partner access token says."""

    partner_id: str
    client_id: str
    scopes: tuple[str, ...]
    secret_version: int
    expires_at: int

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def claims(client: Client, scopes: tuple[str, ...], now: datetime, jti: str) -> dict[str, Any]:
    issued = int(now.timestamp())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client.client_id,
        "partner_id": client.partner_id,
        "scope": " ".join(scopes),
        "sv": client.secret_version,
        "iat": issued,
        "exp": issued + TOKEN_SECONDS,
        "jti": jti,
    }


def access_token(claims: dict[str, Any]) -> AccessToken:
    """The token a set of verified claims describe; PartnerTokenInvalid when they do not fit."""
    try:
        scopes = tuple(str(claims["scope"]).split(" "))
        token = AccessToken(
            partner_id=str(claims["partner_id"]),
            client_id=str(claims["sub"]),
            scopes=scopes,
            secret_version=int(claims["sv"]),
            expires_at=int(claims["exp"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PartnerTokenInvalid(f"invalid partner token: claim {exc} missing or bad") from None
    if not set(scopes) <= set(SCOPES):
        raise PartnerTokenInvalid("invalid partner token: unknown scope")
    return token


def token_refusal(token: AccessToken, now: datetime, client: Client | None) -> DomainError | None:
    """Why a well-signed token is refused now: expired, its client gone, or issued under a
    secret version older than the client's (a rotation)."""
    if now.timestamp() >= token.expires_at:
        return PartnerTokenExpired(
            f"the token expired at {datetime.fromtimestamp(token.expires_at, UTC).isoformat()}"
        )
    if client is None or client.client_id != token.client_id:
        return PartnerTokenInvalid("the token's client is not registered")
    if token.secret_version != client.secret_version:
        return PartnerSecretRotated(
            f"issued under secret version {token.secret_version}; the client's is now "
            f"{client.secret_version}: get a new token with the new secret"
        )
    return None


def scope_refusal(token: AccessToken, scope: str) -> DomainError | None:
    if not token.has(scope):
        return ScopeNotGranted(f"the access token does not carry {scope}", scope=scope)
    return None


@dataclass(frozen=True)
class Consent:
    consent_id: str
    user_id: str
    partner_id: str
    scopes: tuple[str, ...]
    max_coins: int | None
    coins_used: int
    revoked: bool


def consent_refusal(
    consent: Consent | None, partner_id: str, scope: str, coins: int
) -> DomainError | None:
    """Why this consent does not let `partner_id` move `coins` under `scope`: none (or another
    partner's), revoked, a scope the user did not grant, or a debit past its `max_coins`."""
    if consent is None or consent.partner_id != partner_id:
        return ConsentRequired("no consent of a user to this partner has this token")
    if consent.revoked:
        return ConsentRevoked(f"consent {consent.consent_id} was revoked by the user")
    if scope not in consent.scopes:
        return ScopeNotGranted(f"the user's consent does not grant {scope}", scope=scope)
    if scope == DEBIT and consent.max_coins is not None:
        if consent.coins_used + coins > consent.max_coins:
            return ConsentLimitReached(
                f"{coins} coins more would pass the consent's {consent.max_coins}"
                f" ({consent.coins_used} used)",
                max_coins=consent.max_coins,
                coins_used=consent.coins_used,
            )
    return None


def utc_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def limit_reached(partner_id: str, daily: int, used: int, coins: int, now: datetime):
    """The refusal of an operation the partner's daily limit does not leave room for."""
    resets = utc_day(now) + timedelta(days=1)
    return PartnerLimitReached(
        f"{coins} coins more would pass {partner_id}'s {daily} per day ({used} moved today)",
        limit=daily,
        spent=used,
        resets_at=resets.isoformat(),
    )
