"""Payout HTTP API: a creator's earnings and payout requests."""

from datetime import date
from decimal import Decimal
from typing import Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.eventstore import append
from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey, request_hash, run_once
from eventkit.settings import Settings
from schemas import topics
from schemas.events.payout import PayoutRequested
from schemas.money import Currency, Money
from services.payout.conversion import diamonds_to_fiat, load_config
from services.payout.errors import BelowMinimum, InsufficientDiamonds, NotEligible
from services.rules.eligibility import load_policy, refusal

SOURCE = "/coinstream/payout"
router = APIRouter(prefix="/v1", tags=["payout"])


class EarningsPublic(BaseModel):
    creator_id: str
    earned: int
    held: int
    pending: int
    paid: int
    available: int


class PayoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    diamonds: int = Field(gt=0, le=10**12, examples=[2000])
    method: Literal["bank", "paypal"] = "bank"
    currency: Currency = "USD"


class PayoutPublic(BaseModel):
    payout_id: UUID
    event_id: UUID
    status: str
    diamonds: int
    amount: Money
    available_after: int


@router.get("/earnings", summary="The caller's diamond balances")
async def get_earnings(caller: CallerDep, request: Request) -> EarningsPublic:
    row = await request.app.state.pool.fetchrow(
        "SELECT earned, held, pending, paid FROM creators WHERE creator_id = $1", caller.user_id)
    e, h, p, d = (row["earned"], row["held"], row["pending"], row["paid"]) if row else (0, 0, 0, 0)
    return EarningsPublic(creator_id=caller.user_id, earned=e, held=h, pending=p, paid=d,
                          available=e - h - p - d)


@router.post("/payouts", status_code=201, summary="Request a payout of available diamonds",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, InsufficientDiamonds, BelowMinimum,
                 problems.IdempotencyKeyReused, problems.MissingIdempotencyKey))
async def request_payout(body: PayoutCreate, caller: CallerDep, key: IdempotencyKey,
                         request: Request, response: Response) -> PayoutPublic:
    """Reserves the diamonds as pending (never more than available, decided inside PostgreSQL)
    and records `PayoutRequested`."""
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type,
                  date.today())
    if why:
        raise NotEligible(why)
    config = load_config()
    rates = config["rates"]
    if body.currency not in rates["usd_per_unit"]:
        raise problems.DomainError(f"unsupported payout currency {body.currency}")
    usd_per_diamond = Decimal(rates["usd_per_diamond"])
    usd, _ = diamonds_to_fiat(body.diamonds, usd_per_diamond, Decimal(1), "USD")
    if usd.amount_minor < config["minimum_payout_usd_minor"]:
        raise BelowMinimum(f"{body.diamonds} diamonds = {usd.amount_minor} US cents; minimum is "
                           f"{config['minimum_payout_usd_minor']}")
    amount, fx = diamonds_to_fiat(body.diamonds, usd_per_diamond,
                                  Decimal(rates["usd_per_unit"][body.currency]), body.currency)

    async def work(conn):
        row = await conn.fetchrow(
            "UPDATE creators SET pending = pending + $2, version = version + 1, updated_at = now()"
            " WHERE creator_id = $1 AND earned - held - pending - paid >= $2"
            " RETURNING earned - held - pending - paid AS available, version",
            caller.user_id, body.diamonds)
        if row is None:
            raise InsufficientDiamonds(f"{body.diamonds} diamonds requested")
        payout_id = uuid4()
        await conn.execute(
            "INSERT INTO payouts (payout_id, creator_id, diamonds, amount_minor, currency, method,"
            " status) VALUES ($1, $2, $3, $4, $5, $6, 'pending')", payout_id, caller.user_id,
            body.diamonds, amount.amount_minor, amount.currency, body.method)
        event = new_envelope(SOURCE, PayoutRequested(
            payout_id=str(payout_id), creator_id=caller.user_id, diamonds=body.diamonds,
            amount=amount, usd_per_diamond=usd_per_diamond, fx_rate=fx,
            rates_version=rates["version"], method=body.method,
            available_after=row["available"]),
            aggregate_id=f"creator-{caller.user_id}", aggregate_version=row["version"])
        await append(conn, topics.PAYOUT_EVENTS, event)
        out = PayoutPublic(payout_id=payout_id, event_id=event.id, status="pending",
                           diamonds=body.diamonds, amount=amount, available_after=row["available"])
        return 201, out.model_dump(mode="json")

    status, out, replayed = await run_once(
        request.app.state.pool, caller.user_id, key,
        request_hash("POST /v1/payouts", body.model_dump(mode="json")), work)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return PayoutPublic.model_validate(out)


def create(settings: Settings) -> FastAPI:
    return create_app("Coinstream payout", "payout", settings, [router],
                      description="Creator earnings and payouts.")
