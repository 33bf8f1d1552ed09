"""Admin review of large payouts: approve sends it on to the provider (through the worker),
reject returns the diamonds (PayoutFailed reason rejected). Each happens at most once."""

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import AdminDep
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Reason
from schemas.events.payout import PayoutApproved
from services.payout.errors import PayoutNotFound, PayoutNotInReview
from services.payout.ledger import bump_version, emit
from services.payout.lifecycle import resolve, settle_by
from services.payout.views import PayoutPublic, config, load_payout, public

router = APIRouter(prefix="/v1/admin/payouts", tags=["payout admin"])
REVIEW_PROBLEMS = problems.problem_responses(
    problems.Unauthorized, problems.Forbidden, PayoutNotFound, PayoutNotInReview
)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detail: Reason | None = Field(default=None, max_length=500)


async def not_in_review(pool, payout_id: UUID) -> PayoutNotInReview:
    row = await load_payout(pool, payout_id)  # raises PayoutNotFound
    return PayoutNotInReview(f"payout is {row['status']}")


@router.post(
    "/{payout_id}/approve", summary="Approve a payout waiting for review", responses=REVIEW_PROBLEMS
)
async def approve(
    payout_id: UUID, admin: AdminDep, request: Request, pool: PoolDep, now: ClockDep
) -> PayoutPublic:
    async with pool.acquire() as conn, conn.transaction():
        creator_id = await conn.fetchval(
            "UPDATE payouts SET status = 'pending', settle_by = $2"
            " WHERE payout_id = $1 AND status = 'review' RETURNING creator_id",
            payout_id,
            settle_by(now, config(request).settle_timeout_seconds),
        )
        if creator_id is not None:
            await emit(
                conn,
                creator_id,
                await bump_version(conn, creator_id),
                PayoutApproved(
                    payout_id=str(payout_id), creator_id=creator_id, approved_by=admin.user_id
                ),
            )
    if creator_id is None:
        raise await not_in_review(pool, payout_id)
    return public(await load_payout(pool, payout_id))


@router.post(
    "/{payout_id}/reject", summary="Reject a payout waiting for review", responses=REVIEW_PROBLEMS
)
async def reject(
    payout_id: UUID,
    admin: AdminDep,
    pool: PoolDep,
    now: ClockDep,
    body: Rejection | None = None,
) -> PayoutPublic:
    detail = (body.detail if body else None) or f"rejected by {admin.user_id}"
    async with pool.acquire() as conn, conn.transaction():
        done = await resolve(conn, payout_id, "failed", ["review"], now, "rejected", detail)
    if done is None:
        raise await not_in_review(pool, payout_id)
    return public(await load_payout(pool, payout_id))
