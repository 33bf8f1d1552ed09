"""Admin API of partner clients (OAuth2 client credentials, RFC 6749 §4.4): issue a partner
its client, list them, rotate a secret. A secret is shown once, in the answer that made it,
and kept only as its scrypt hash; a retry with the same Idempotency-Key answers the same
client without it (`client_secret: null`): rotate again to get a new one."""

import asyncio
import secrets as random
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import AdminDep, UserId
from eventkit.deps import PoolDep
from eventkit.fields import Count
from eventkit.idempotency import IdempotencyKey
from schemas.events.partners import BASIS_POINTS, Scope
from schemas.text import Id, Text
from services.gifting import partners_store as store
from services.gifting.partners_decide import SCOPES, Client
from services.gifting.partners_errors import PartnerExists, PartnerNotFound, SecretVersionChanged
from services.gifting.partners_once import respond_revealing
from services.gifting.partners_tokens import hash_secret, new_secret

router = APIRouter(prefix="/v1/admin/partner-clients", tags=["partners (admin)"])
ADMIN_PROBLEMS = (problems.Unauthorized, problems.Forbidden)
KEY_PROBLEMS = (problems.IdempotencyKeyReused, problems.MissingIdempotencyKey)
MAX_DAILY_COINS = 10**12


class PartnerClientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "shop-1",
                    "name": "Pixel Shop",
                    "scopes": ["coins:debit", "coins:credit"],
                    "revenue_share_bp": 7000,
                    "daily_coins": 100000,
                }
            ]
        },
    )

    partner_id: UserId = Field(
        description="The partner's account id: payout credits its revenue share there, and the "
        "partner withdraws it by signing in as this account"
    )
    name: Text = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=len(SCOPES),
        description="coins:debit: sell its items for coins · coins:credit: reward coins",
    )
    revenue_share_bp: Annotated[int, Field(ge=0, le=BASIS_POINTS), *Count.__metadata__] = Field(
        description="The partner's share of each debit, in basis points (7000 = 70%)"
    )
    daily_coins: Annotated[int, Field(ge=1, le=MAX_DAILY_COINS), *Count.__metadata__] = Field(
        description="Most coins the partner may move (debited plus credited) per UTC day"
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"secret_version": 1}]}
    )

    secret_version: Annotated[int, Field(ge=1, le=2**31 - 1), *Count.__metadata__] = Field(
        description="The version being replaced (the client's current one, else 409)"
    )


class PartnerClientPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "shop-1",
                    "client_id": "pc_4f2a9c1d7e3b5a60",
                    "name": "Pixel Shop",
                    "scopes": ["coins:debit", "coins:credit"],
                    "revenue_share_bp": 7000,
                    "daily_coins": 100000,
                    "secret_version": 1,
                    "created_at": "2026-12-02T08:00:00Z",
                    "rotated_at": None,
                    "client_secret": "dGhpcyBpcyBvbmx5IGFuIGV4YW1wbGUgc2VjcmV0IQ",
                }
            ]
        }
    )

    partner_id: str
    client_id: str
    name: str
    scopes: list[str]
    revenue_share_bp: int
    daily_coins: int
    secret_version: int
    created_at: datetime
    rotated_at: datetime | None = None
    client_secret: str | None = Field(
        default=None,
        description="Only in the answer that made it (issue or rotate); stored hashed",
    )


class PartnerClientList(BaseModel):
    clients: list[PartnerClientPublic]


def public(row: asyncpg.Record, secret: str | None = None) -> dict[str, Any]:
    out = {k: row[k] for k in PartnerClientPublic.model_fields if k != "client_secret"}
    return PartnerClientPublic(**out, client_secret=secret).model_dump(mode="json")


@router.post(
    "",
    status_code=201,
    summary="Register a partner and issue its OAuth client",
    responses=problems.problem_responses(*ADMIN_PROBLEMS, PartnerExists, *KEY_PROBLEMS),
)
async def issue_client(
    body: PartnerClientCreate,
    admin: AdminDep,
    key: IdempotencyKey,
    pool: PoolDep,
    request: Request,
    response: Response,
) -> PartnerClientPublic:
    """Records `PartnerClientIssued`. The answer carries `client_secret` once: the partner
    exchanges client_id and secret for access tokens at `POST /oauth/token`. A partner id
    already registered is 409 `partner-exists`."""
    secret = new_secret()
    hashed = await asyncio.to_thread(hash_secret, secret)
    scopes = tuple(s for s in SCOPES if s in body.scopes)
    client = Client(
        body.partner_id,
        f"pc_{random.token_hex(8)}",
        scopes,
        body.revenue_share_bp,
        body.daily_coins,
        1,
    )

    async def work(conn):
        row = await store.issue(conn, client, body.name, hashed)
        if row is None:
            raise PartnerExists(f"{body.partner_id} already has a client")
        return 201, public(row)

    return await respond_revealing(
        pool,
        request,
        response,
        admin.user_id,
        key,
        body,
        work,
        PartnerClientPublic,
        "client_secret",
        secret,
    )


@router.get(
    "", summary="Every partner client", responses=problems.problem_responses(*ADMIN_PROBLEMS)
)
async def list_clients(admin: AdminDep, pool: PoolDep) -> PartnerClientList:
    async with pool.acquire() as conn:
        rows = await store.clients(conn)
    return PartnerClientList(clients=[PartnerClientPublic.model_validate(public(r)) for r in rows])


PartnerPath = Annotated[Id, Path(examples=["shop-1"])]


@router.get(
    "/{partner_id}",
    summary="One partner's client",
    responses=problems.problem_responses(*ADMIN_PROBLEMS, PartnerNotFound),
)
async def get_client(
    partner_id: PartnerPath, admin: AdminDep, pool: PoolDep
) -> PartnerClientPublic:
    async with pool.acquire() as conn:
        row = await store.client_row(conn, partner_id)
    if row is None:
        raise PartnerNotFound(partner_id)
    return PartnerClientPublic.model_validate(public(row))


@router.post(
    "/{partner_id}/rotate",
    summary="Rotate a partner client's secret",
    responses=problems.problem_responses(
        *ADMIN_PROBLEMS, PartnerNotFound, SecretVersionChanged, *KEY_PROBLEMS
    ),
)
async def rotate_secret(
    partner_id: PartnerPath,
    body: SecretRotation,
    admin: AdminDep,
    key: IdempotencyKey,
    pool: PoolDep,
    request: Request,
    response: Response,
) -> PartnerClientPublic:
    """Replaces the secret (`PartnerSecretRotated`, secret_version + 1): the old secret stops
    working at once, and so does every access token issued under it (tokens carry the
    version). `secret_version` names the version replaced: another one is 409, so a retry
    never rotates twice."""
    secret = new_secret()
    hashed = await asyncio.to_thread(hash_secret, secret)

    async def work(conn):
        row = await store.rotate(conn, partner_id, body.secret_version, hashed)
        if row is None:
            current = await store.client_row(conn, partner_id)
            if current is None:
                raise PartnerNotFound(partner_id)
            raise SecretVersionChanged(
                f"secret version {body.secret_version} named; {current['secret_version']} is current",
                secret_version=current["secret_version"],
            )
        return 200, public(row)

    return await respond_revealing(
        pool,
        request,
        response,
        admin.user_id,
        key,
        body,
        work,
        PartnerClientPublic,
        "client_secret",
        secret,
    )
