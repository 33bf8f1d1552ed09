"""A payout's way to its end: settled by the provider (completed or failed), voided when the
provider never answers before its settle-by time, or rejected by an admin; each ending returns
what the payout held on the creators row (see ledger.py's lock order) exactly once."""

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from schemas.events.payout import FailureReason, PayoutCompleted, PayoutFailed
from schemas.money import Money
from services.payout.ledger import emit

OPEN = ["pending", "submitted"]  # sent (or about to be sent) to a provider, not yet settled


async def resolve(
    conn,
    payout_id: UUID,
    outcome: str,
    from_statuses: list[str],
    now: datetime,
    reason: FailureReason | None = None,
    detail: str | None = None,
    provider_ref: str | None = None,
) -> dict | None:
    """Moves a payout to its final outcome (completed | failed | voided) exactly once: the
    conditional UPDATE on status lets only one caller through. Completed moves pending -> paid;
    failed/voided return the diamonds and the day's allowance. None when it was not open."""
    row = await conn.fetchrow(
        "UPDATE payouts SET status = $2, reason = $3, detail = $4, resolved_at = $5"
        " WHERE payout_id = $1 AND status = ANY($6::text[])"
        " AND ($7::text IS NULL OR provider_ref = $7)"
        " RETURNING creator_id, diamonds, amount_minor, currency, usd_minor, day, provider_ref",
        payout_id,
        outcome,
        reason,
        detail,
        now,
        from_statuses,
        provider_ref,
    )
    if row is None:
        return None
    creator_id, diamonds = row["creator_id"], row["diamonds"]
    payload: PayoutCompleted | PayoutFailed
    if outcome == "completed":
        version = await conn.fetchval(
            "UPDATE creators SET pending = pending - $2, paid = paid + $2,"
            " version = version + 1, updated_at = now() WHERE creator_id = $1 RETURNING version",
            creator_id,
            diamonds,
        )
        payload = PayoutCompleted(
            payout_id=str(payout_id),
            creator_id=creator_id,
            diamonds=diamonds,
            amount=Money(amount_minor=row["amount_minor"], currency=row["currency"]),
            provider_ref=row["provider_ref"] or provider_ref,
        )
    else:
        if reason is None:
            raise ValueError(f"a {outcome} payout needs a reason")
        version = await conn.fetchval(
            "UPDATE creators SET pending = pending - $2, version = version + 1,"
            " updated_at = now() WHERE creator_id = $1 RETURNING version",
            creator_id,
            diamonds,
        )
        if row["day"] is not None:
            await conn.execute(
                "UPDATE payout_days SET usd_minor = usd_minor - $3"
                " WHERE creator_id = $1 AND day = $2",
                creator_id,
                row["day"],
                row["usd_minor"],
            )
        payload = PayoutFailed(
            payout_id=str(payout_id),
            creator_id=creator_id,
            diamonds=diamonds,
            reason=reason,
            detail=detail,
        )
    await emit(conn, creator_id, version, payload)
    return dict(row)


async def void_overdue(pool: asyncpg.Pool, now: datetime, batch: int = 200) -> int:
    """Voids open payouts past their settle-by time (PayoutFailed reason timeout)."""
    ids = await pool.fetch(
        "SELECT payout_id FROM payouts WHERE status = ANY($1::text[]) AND settle_by <= $2"
        " ORDER BY settle_by LIMIT $3",
        OPEN,
        now,
        batch,
    )
    voided = 0
    for r in ids:
        async with pool.acquire() as conn, conn.transaction():
            if await resolve(
                conn,
                r["payout_id"],
                "voided",
                OPEN,
                now,
                "timeout",
                "not settled before the settlement timeout",
            ):
                voided += 1
    return voided


def settle_by(now: datetime, timeout_seconds: int) -> datetime:
    return now + timedelta(seconds=timeout_seconds)
