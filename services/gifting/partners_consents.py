"""A user's consents to partners: grant one (scoped, optionally capped), list them, revoke
one. The consent token is shown once, in the answer that made it, and kept only as its
SHA-256; a retry with the same Idempotency-Key answers the same consent without it."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count
from eventkit.idempotency import IdempotencyKey
from schemas.events.partners import Scope
from schemas.text import Id
from services.gifting import accounts
from services.gifting import partners_store as store
from services.gifting.partners_decide import SCOPES
from services.gifting.partners_errors import ConsentNotFound, PartnerNotFound, ScopeNotAllowed
from services.gifting.partners_once import respond_revealing
from services.gifting.partners_tokens import consent_token_hash, new_consent_token

router = APIRouter(prefix="/v1/partner-consents", tags=["partner consents"])
MAX_COINS = 10**12


class ConsentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"partner_id": "shop-1", "scopes": ["coins:debit"], "max_coins": 500},
                {"partner_id": "shop-1", "scopes": ["coins:debit", "coins:credit"]},
            ]
        },
    )

    partner_id: Id
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    max_coins: Annotated[int, Field(ge=1, le=MAX_COINS), *Count.__metadata__] | None = Field(
        default=None, description="Most coins the partner may debit under it in all; null: no cap"
    )


class ConsentPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "consent_id": "0d6f1c8e-8b1e-4a55-9a7e-3c1f2b4d5e6f",
                    "partner_id": "shop-1",
                    "scopes": ["coins:debit"],
                    "max_coins": 500,
                    "coins_used": 0,
                    "granted_at": "2026-12-02T08:00:00Z",
                    "revoked_at": None,
                    "consent_token": "pct_b3JseSBhbiBleGFtcGxlIGNvbnNlbnQgdG9rZW4",
                }
            ]
        }
    )

    consent_id: UUID
    partner_id: str
    scopes: list[str]
    max_coins: int | None
    coins_used: int = Field(description="Coins the partner debited under it so far")
    granted_at: datetime
    revoked_at: datetime | None = None
    consent_token: str | None = Field(
        default=None,
        description="Only in the answer that granted it: hand it to the partner, which sends it"
        " with each operation",
    )


class ConsentList(BaseModel):
    consents: list[ConsentPublic]


def public(row: asyncpg.Record) -> dict[str, Any]:
    out = {k: row[k] for k in ConsentPublic.model_fields if k != "consent_token"}
    return ConsentPublic(**out).model_dump(mode="json")


@router.post(
    "",
    status_code=201,
    summary="Let a partner debit (or credit) the caller's coins",
    responses=problems.problem_responses(
        problems.Unauthorized,
        PartnerNotFound,
        ScopeNotAllowed,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def grant(
    body: ConsentCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    pool: PoolDep,
    request: Request,
    response: Response,
) -> ConsentPublic:
    """Records `PartnerConsentGranted` and answers the consent token once. Only scopes the
    partner's client holds may be granted (403 `partner-scope-not-allowed`). The partner's
    debits still pass through the caller's spending limits and age rules."""
    token = new_consent_token()

    async def work(conn):
        client = await store.client(conn, body.partner_id)
        if client is None:
            raise PartnerNotFound(f"no partner {body.partner_id}")
        refused = set(body.scopes) - set(client.scopes)
        if refused:
            raise ScopeNotAllowed(f"{body.partner_id} may not be granted {sorted(refused)}")
        await accounts.remember_caller(conn, caller)  # its debits judge this profile
        scopes = tuple(s for s in SCOPES if s in body.scopes)
        row = await store.grant(
            conn,
            caller.user_id,
            body.partner_id,
            scopes,
            body.max_coins,
            consent_token_hash(token),
            now,
        )
        return 201, public(row)

    return await respond_revealing(
        pool,
        request,
        response,
        caller.user_id,
        key,
        body,
        work,
        ConsentPublic,
        "consent_token",
        token,
    )


@router.get(
    "",
    summary="The caller's consents to partners, revoked ones too",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def list_consents(caller: CallerDep, pool: PoolDep) -> ConsentList:
    async with pool.acquire() as conn:
        rows = await store.consents_of(conn, caller.user_id)
    return ConsentList(consents=[ConsentPublic.model_validate(public(r)) for r in rows])


@router.delete(
    "/{consent_id}",
    summary="Revoke a consent",
    responses=problems.problem_responses(problems.Unauthorized, ConsentNotFound),
)
async def revoke(
    consent_id: Annotated[UUID, Path()], caller: CallerDep, now: ClockDep, pool: PoolDep
) -> ConsentPublic:
    """Records `PartnerConsentRevoked`: the partner's next operation with it is refused (403
    `consent-revoked`). Revoking again changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        row = await store.revoke(conn, caller.user_id, consent_id, now)
    if row is None:
        raise ConsentNotFound(str(consent_id))
    return ConsentPublic.model_validate(public(row))
