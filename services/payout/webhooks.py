"""Settlement webhooks from the sandbox payout provider (POST /v1/callbacks/<provider>, the path
the provider is configured with). The signature (HMAC-SHA256 over the raw
body, shared secret from PayoutSettings) is checked before anything is parsed; a payout
settles once, and a repeated or late delivery is answered with the outcome already recorded."""

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from eventkit import problems
from eventkit.deps import ClockDep, PoolDep
from eventkit.webhooks import verified
from schemas.events.payout import FailureReason
from services.payout.errors import BadCallback, BadSignature, PayoutNotFound, PayoutNotSettleable
from services.payout.lifecycle import OPEN, resolve
from services.payout.provider import SIGNATURE_HEADER, SandboxCallback
from services.payout.views import load_payout

router = APIRouter(prefix="/v1/callbacks", tags=["payout provider"])


class CallbackAnswer(BaseModel):
    payout_id: str
    status: str
    applied: bool


@router.post(
    "/sandbox",
    summary="Settlement callback from the sandbox payout provider",
    responses=problems.problem_responses(
        BadSignature, BadCallback, PayoutNotFound, PayoutNotSettleable
    ),
)
async def sandbox_callback(
    request: Request,
    pool: PoolDep,
    now: ClockDep,
    signature: str | None = Header(default=None, alias=SIGNATURE_HEADER),
) -> CallbackAnswer:
    cb = verified(
        request.app.state.payout_settings.callback_secret,
        await request.body(),
        signature,
        SandboxCallback,
        BadSignature,
        BadCallback,
    )
    reason: FailureReason | None
    outcome, reason = (
        ("completed", None) if cb.outcome == "completed" else ("failed", "provider_failure")
    )
    async with pool.acquire() as conn, conn.transaction():
        # Wait for a worker still handing this payout over: its mark records the reference
        # this delivery must match (a statement's own snapshot would not wait for it).
        await conn.execute("SELECT FROM payouts WHERE payout_id = $1 FOR UPDATE", cb.payout_id)
        done = await resolve(
            conn, cb.payout_id, outcome, OPEN, now, reason, cb.detail, cb.provider_ref
        )
    row = await load_payout(pool, cb.payout_id)
    if done is None and row["status"] in ("review", *OPEN):
        raise PayoutNotSettleable(
            f"payout is {row['status']} (or the provider reference does not match)"
        )
    return CallbackAnswer(
        payout_id=str(cb.payout_id), status=row["status"], applied=done is not None
    )
