"""Shared by the creator, admin and webhook routes: a payout's public view."""

from uuid import UUID

from fastapi import Request
from pydantic import BaseModel

from schemas.money import Money
from services.payout.conversion import PayoutConfig
from services.payout.errors import PayoutNotFound


def config(request: Request) -> PayoutConfig:
    """The payout config in force (config.json; tests replace app.state.config to move the
    rates to a new version)."""
    return request.app.state.config()


class PayoutPublic(BaseModel):
    payout_id: UUID
    status: str
    diamonds: int
    amount: Money
    usd_minor: int
    requires_review: bool
    available_after: int | None = None
    event_id: UUID | None = None
    reason: str | None = None


async def load_payout(pool, payout_id: UUID) -> dict:
    row = await pool.fetchrow(
        "SELECT payout_id, creator_id, status, diamonds, amount_minor, currency, usd_minor,"
        " requires_review, reason FROM payouts WHERE payout_id = $1",
        payout_id,
    )
    if row is None:
        raise PayoutNotFound(str(payout_id))
    return dict(row)


def public(row: dict) -> PayoutPublic:
    return PayoutPublic(
        payout_id=row["payout_id"],
        status=row["status"],
        diamonds=row["diamonds"],
        usd_minor=row["usd_minor"],
        amount=Money(amount_minor=row["amount_minor"], currency=row["currency"]),
        requires_review=row["requires_review"],
        reason=row["reason"],
    )
