"""Admin-only sanctions API: place, lift and list transaction bans. Each change is announced on
the sanctions topic (TransactionBanPlaced / TransactionBanLifted) for every service to enforce."""

from datetime import datetime
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import AdminDep, UserId
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Instant, Reason
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas.events.sanctions import BanScope
from schemas.text import Id
from services.recharge import bans
from services.recharge.errors import BanNotFound

router = APIRouter(prefix="/v1/admin/bans", tags=["sanctions (admin)"])
ADMIN_PROBLEMS = (problems.Unauthorized, problems.Forbidden)


class BanCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "fan-1",
                    "scopes": ["buy", "gift"],
                    "reason": "chargeback abuse",
                    "expires_at": "2026-12-31T00:00:00Z",
                }
            ]
        },
    )

    user_id: UserId = Field(description="Any user a token may name (not a reserved id)")
    scopes: list[BanScope] = Field(
        min_length=1,
        max_length=5,
        description=(
            "buy: purchase coins · gift: send gifts/unlock · receive: receive gifts · payout: "
            "withdraw · account: everything"
        ),
    )
    reason: Reason = Field(max_length=500)
    expires_at: Instant | None = Field(
        default=None,
        description="When the ban ends by itself (RFC 3339 with an offset), "
        "after the server's current time (else 409 expiry-in-past);"
        " omitted = until lifted",
    )


class BanLift(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "appeal accepted"}]}
    )

    reason: Reason = Field(max_length=500)


class BanPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ban_id": "adm-1b2c3d4e-0000-4000-8000-000000000001",
                    "user_id": "fan-1",
                    "scopes": ["buy", "gift"],
                    "reason": "chargeback abuse (by ops-1)",
                    "source": "admin",
                    "expires_at": "2026-12-31T00:00:00Z",
                    "placed_at": "2026-11-26T08:00:00Z",
                    "lifted_at": None,
                }
            ]
        }
    )

    ban_id: str
    user_id: str
    scopes: list[str]
    reason: str | None
    source: str | None
    expires_at: datetime | None
    placed_at: datetime | None
    lifted_at: datetime | None


class BanList(BaseModel):
    bans: list[BanPublic]


class ExpiryInPast(problems.DomainError):
    """A ban that would already be over when placed. Refused rather than recorded: a moderator
    who typed a past time (a wrong year or zone) must learn that the user is not banned. It
    is a conflict with the server's clock (409), which no schema can state; the problem
    carries the server's time (`now`) to compare with."""

    status, code, title = 409, "expiry-in-past", "expires_at must be in the future"


@router.post(
    "",
    status_code=201,
    summary="Place a transaction ban",
    responses=problems.problem_responses(
        *ADMIN_PROBLEMS, ExpiryInPast, problems.IdempotencyKeyReused, problems.MissingIdempotencyKey
    ),
)
async def place_ban(
    body: BanCreate,
    admin: AdminDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    now: ClockDep,
) -> BanPublic:
    """Records the ban and emits `TransactionBanPlaced`; a retry with the same Idempotency-Key
    returns the same ban."""

    async def work(conn):
        # Checked only for a new request: a retry replays the ban it placed, even once expired.
        if body.expires_at is not None and body.expires_at <= now:
            raise ExpiryInPast(
                f"expires_at {body.expires_at.isoformat()} is not after the "
                f"server's time {now.isoformat()}",
                now=now.isoformat(),
            )
        ban_id = f"adm-{uuid4()}"
        await bans.place(
            conn,
            ban_id,
            body.user_id,
            list(dict.fromkeys(body.scopes)),
            f"{body.reason} (by {admin.user_id})",
            "admin",
            body.expires_at,
        )
        placed = await bans.get(conn, ban_id)
        if placed is None:  # placed in this transaction, so never: said for the type checker
            raise BanNotFound(ban_id)
        return 201, BanPublic(**dict(placed)).model_dump(mode="json")

    return await respond_once(request, response, admin.user_id, key, body, work, BanPublic)


@router.post(
    "/{ban_id}/lift",
    summary="Lift a transaction ban",
    responses=problems.problem_responses(*ADMIN_PROBLEMS, BanNotFound),
)
async def lift_ban(
    ban_id: Annotated[Id, Path()], body: BanLift, admin: AdminDep, pool: PoolDep
) -> BanPublic:
    """Emits `TransactionBanLifted` the first time; lifting a lifted ban changes nothing and
    answers its current state."""
    async with pool.acquire() as conn, conn.transaction():
        row = await bans.get(conn, ban_id)
        if row is None or row["placed_at"] is None:
            raise BanNotFound(ban_id)
        await bans.lift(
            conn, ban_id, row["user_id"], f"{body.reason} (by {admin.user_id})", "admin"
        )
        lifted = await bans.get(conn, ban_id)
        if lifted is None:  # lifted in this transaction, so never: said for the type checker
            raise BanNotFound(ban_id)
        return BanPublic(**dict(lifted))


@router.get(
    "", summary="A user's bans, newest first", responses=problems.problem_responses(*ADMIN_PROBLEMS)
)
async def list_bans(admin: AdminDep, pool: PoolDep, user_id: Annotated[Id, Query()]) -> BanList:
    async with pool.acquire() as conn:
        return BanList(bans=[BanPublic(**dict(r)) for r in await bans.of_user(conn, user_id)])
