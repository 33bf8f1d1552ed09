"""The partner API: with an access token from `POST /oauth/token` and a user's consent token,
a partner debits the user's coins for its own catalog items (`POST /v1/partner/debits`) or
credits coins the user earned on its platform (`POST /v1/partner/credits`). Every operation
is idempotent per partner and Idempotency-Key, limited per partner per UTC day, recorded as
an event naming the partner, and shown in the user's statement (docs/partners.md)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Request, Response, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas.events.partners import PartnerCoinsCredited, PartnerCoinsDebited
from schemas.text import Id, Text
from services.gifting import partners_store as store
from services.gifting.errors import Banned, InsufficientCoins, NotEligible
from services.gifting.partners_decide import (
    CREDIT,
    DEBIT,
    AccessToken,
    Client,
    scope_refusal,
    token_refusal,
)
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
from services.gifting.partners_tokens import consent_token_hash, verify

router = APIRouter(prefix="/v1/partner", tags=["partner operations"])
MAX_COINS = 10**9  # per operation


class PartnerBearer(OAuth2):
    """The partner access token (OAuth2 client credentials; documented as that flow, with
    the scopes each route needs)."""

    def __init__(self) -> None:
        flows = OAuthFlows(
            clientCredentials=OAuthFlowClientCredentials(
                tokenUrl="/oauth/token",
                scopes={DEBIT: "debit consenting users' coins", CREDIT: "credit users coins"},
            )
        )
        super().__init__(flows=flows, scheme_name="PartnerOAuth", auto_error=False)

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
        if not (scheme and credentials) or scheme.lower() != "bearer":
            raise PartnerTokenInvalid("missing partner bearer token")
        return credentials


partner_bearer = PartnerBearer()


@dataclass(frozen=True)
class Partner:
    client: Client
    token: AccessToken


async def current_partner(
    scopes: SecurityScopes,
    request: Request,
    pool: PoolDep,
    now: ClockDep,
    raw: Annotated[str, Security(partner_bearer)],
) -> Partner:
    """The partner a valid access token names: signed by a partner key, unexpired by the app's
    clock, issued under the client's current secret, and carrying the route's scope."""
    token = verify(request.app.state.settings, raw)
    async with pool.acquire() as conn:
        client = await store.client(conn, token.partner_id)
    why = token_refusal(token, now, client)
    for scope in scopes.scopes:
        why = why or scope_refusal(token, scope)
    if why is not None:
        raise why
    assert client is not None  # token_refusal refuses a missing client
    return Partner(client, token)


Debiting = Annotated[Partner, Security(current_partner, scopes=[DEBIT])]
Crediting = Annotated[Partner, Security(current_partner, scopes=[CREDIT])]
OperationCoins = Annotated[int, Field(ge=1, le=MAX_COINS), *Count.__metadata__]
ConsentToken = Annotated[str, Field(min_length=1, max_length=200, description="From the user")]


class PartnerDebitCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "consent_token": "pct_b3JseSBhbiBleGFtcGxlIGNvbnNlbnQgdG9rZW4",
                    "item_id": "sword-of-dawn",
                    "title": "Sword of Dawn",
                    "coins": 120,
                }
            ]
        },
    )

    consent_token: ConsentToken
    item_id: Id = Field(description="The partner's own catalog item")
    title: Text = Field(min_length=1, max_length=200)
    coins: OperationCoins


class PartnerCreditCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "consent_token": "pct_b3JseSBhbiBleGFtcGxlIGNvbnNlbnQgdG9rZW4",
                    "reference": "quest-42",
                    "reason": "Daily quest reward",
                    "coins": 15,
                }
            ]
        },
    )

    consent_token: ConsentToken
    reference: Id = Field(description="The partner's own reference for the reward")
    reason: Text = Field(min_length=1, max_length=200)
    coins: OperationCoins


class PartnerOperationPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation_id": "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
                    "kind": "debit",
                    "partner_id": "shop-1",
                    "user_id": "fan-1",
                    "consent_id": "0d6f1c8e-8b1e-4a55-9a7e-3c1f2b4d5e6f",
                    "coins": 120,
                    "reference": "sword-of-dawn",
                    "partner_coins": 84,
                }
            ]
        }
    )

    operation_id: str
    kind: str = Field(description="debit | credit")
    partner_id: str
    user_id: str
    consent_id: str
    coins: int
    reference: str = Field(description="The item debited for, or the credit's reference")
    partner_coins: int | None = Field(
        default=None, description="A debit's revenue share of the coins, credited by payout"
    )


OPERATION_PROBLEMS = (
    PartnerTokenInvalid,
    PartnerTokenExpired,
    PartnerSecretRotated,
    ScopeNotGranted,
    ConsentRequired,
    ConsentRevoked,
    PartnerLimitReached,
    problems.IdempotencyKeyReused,
    problems.MissingIdempotencyKey,
)


def answer(
    p: PartnerCoinsDebited | PartnerCoinsCredited,
    kind: str,
    reference: str,
    partner_coins: int | None = None,
) -> dict:
    """The stored answer of an operation (PartnerOperationPublic)."""
    return PartnerOperationPublic(
        operation_id=p.operation_id,
        kind=kind,
        partner_id=p.partner_id,
        user_id=p.user_id,
        consent_id=p.consent_id,
        coins=p.coins,
        reference=reference,
        partner_coins=partner_coins,
    ).model_dump()


def caller_of(partner: Partner) -> str:
    """The idempotency keys' owner: no user id has a space, so none can share a partner's."""
    return f"partner {partner.client.partner_id}"


@router.post(
    "/debits",
    status_code=201,
    summary="Debit a consenting user's coins for one of the partner's items",
    responses=problems.problem_responses(
        *OPERATION_PROBLEMS, ConsentLimitReached, NotEligible, Banned, InsufficientCoins
    ),
)
async def debit(
    body: PartnerDebitCreate,
    partner: Debiting,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> PartnerOperationPublic:
    """Records `PartnerCoinsDebited` (with the partner's revenue share, which payout credits
    it). Refused, with nothing recorded: a token without `coins:debit`, no consent or one of
    another partner (403 `consent-required`), a revoked consent, a consent without
    `coins:debit` or past its `max_coins`, the partner's daily limit, a short balance (409),
    or any refusal the user's own spending limits and age rules give a spend (403 naming the
    rule and when it resets)."""

    async def work(conn):
        p = await store.debit(
            conn,
            partner.client,
            consent_token_hash(body.consent_token),
            body.item_id,
            body.title,
            body.coins,
            now,
        )
        return 201, answer(p, "debit", p.item_id, p.partner_coins)

    return await respond_once(
        request, response, caller_of(partner), key, body, work, PartnerOperationPublic
    )


@router.post(
    "/credits",
    status_code=201,
    summary="Credit a consenting user coins earned on the partner's platform",
    responses=problems.problem_responses(*OPERATION_PROBLEMS, Banned),
)
async def credit(
    body: PartnerCreditCreate,
    partner: Crediting,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> PartnerOperationPublic:
    """Records `PartnerCoinsCredited` and credits the wallet (ledger kind `partner_credit`).
    Needs `coins:credit` in both the token and the user's consent; counted in the partner's
    daily limit. Refused like a debit, with nothing recorded."""

    async def work(conn):
        p = await store.credit(
            conn,
            partner.client,
            consent_token_hash(body.consent_token),
            body.reference,
            body.reason,
            body.coins,
            now,
        )
        return 201, answer(p, "credit", p.reference)

    return await respond_once(
        request, response, caller_of(partner), key, body, work, PartnerOperationPublic
    )
