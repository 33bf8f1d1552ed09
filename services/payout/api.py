"""Payout HTTP API for creators: earnings, payout method, payout requests and their status.
Admin review lives in admin.py, provider callbacks in callbacks.py."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey, request_hash, run_once
from eventkit.settings import Settings
from schemas.events.payout import PayoutMethodSet, PayoutRequested
from schemas.money import Currency
from services.payout import admin, callbacks
from services.payout.conversion import diamonds_to_fiat, load_config
from services.payout.domain import (
    ActiveBan,
    ban_refusal,
    below_minimum,
    over_daily_cap,
    payout_day,
    requires_review,
)
from services.payout.errors import (
    BelowMinimum,
    DailyCapExceeded,
    InsufficientDiamonds,
    MethodMismatch,
    NoPayoutMethod,
    NotEligible,
    PayoutBanned,
    PayoutNotFound,
    UnsupportedCurrency,
)
from services.payout.ledger import emit, settle_by
from services.payout.settings import PayoutSettings
from services.payout.views import PayoutPublic, clock, load_payout, public
from services.rules.eligibility import load_policy, refusal

router = APIRouter(prefix="/v1", tags=["payout"])


class DayEarnings(BaseModel):
    day: date
    diamonds: int


class StreamEarnings(BaseModel):
    stream_id: str
    diamonds: int


class EarningsPublic(BaseModel):
    creator_id: str
    earned: int
    held: int
    pending: int
    paid: int
    available: int
    timezone: Literal["UTC"] = "UTC"
    per_day: list[DayEarnings] = Field(description="Diamonds earned per UTC day, newest first")
    per_stream: list[StreamEarnings] = Field(description="Diamonds earned from gifts per LIVE")


@router.get("/earnings", summary="The caller's diamond balances, per UTC day and per stream")
async def get_earnings(caller: CallerDep, request: Request,
                       days: Annotated[int, Query(ge=1, le=366)] = 30) -> EarningsPublic:
    pool, since = request.app.state.pool, clock(request) - timedelta(days=days)
    row = await pool.fetchrow(
        "SELECT earned, held, pending, paid FROM creators WHERE creator_id = $1", caller.user_id)
    e, h, p, d = (row["earned"], row["held"], row["pending"], row["paid"]) if row else (0, 0, 0, 0)
    per_day = await pool.fetch(
        "SELECT (earned_at AT TIME ZONE 'UTC')::date AS day, sum(diamonds)::bigint AS diamonds"
        " FROM credits WHERE creator_id = $1 AND earned_at >= $2 GROUP BY 1 ORDER BY 1 DESC",
        caller.user_id, since)
    per_stream = await pool.fetch(
        "SELECT stream_id, sum(diamonds)::bigint AS diamonds FROM credits WHERE creator_id = $1"
        " AND stream_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 100", caller.user_id)
    return EarningsPublic(creator_id=caller.user_id, earned=e, held=h, pending=p, paid=d,
                          available=e - h - p - d,
                          per_day=[DayEarnings(**dict(r)) for r in per_day],
                          per_stream=[StreamEarnings(**dict(r)) for r in per_stream])


PAYOUT_CURRENCY = ("The creator's payout currency: payouts are paid in it (converted at the "
                   "recorded FX rate) unless a request names another")


class BankMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["bank"]
    account_holder: str = Field(min_length=1, max_length=140)
    iban: str = Field(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$", examples=["DE89370400440532013000"])
    currency: Currency = Field(default="USD", description=PAYOUT_CURRENCY)


class PaypalMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["paypal"]
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    currency: Currency = Field(default="USD", description=PAYOUT_CURRENCY)


PayoutMethodBody = Annotated[BankMethod | PaypalMethod, Field(discriminator="kind")]


class PayoutMethodPublic(BaseModel):
    kind: Literal["bank", "paypal"]
    masked: str
    currency: str = "USD"


def masked(method: BankMethod | PaypalMethod) -> str:
    if isinstance(method, BankMethod):
        return f"…{method.iban[-4:]}"
    name, domain = method.email.split("@", 1)
    return f"{name[:1]}…@{domain}"


def supported(currency: str) -> str:
    """The currency, when payouts can be paid in it (config rates.usd_per_unit)."""
    units = load_config()["rates"]["usd_per_unit"]
    if currency not in units:
        raise UnsupportedCurrency(f"{currency} is not one of {sorted(units)}")
    return currency


@router.put("/payout-method", summary="Put the caller's payout method (bank or PayPal) on file",
            responses=problems.problem_responses(
                problems.Unauthorized, UnsupportedCurrency, problems.IdempotencyKeyReused,
                problems.MissingIdempotencyKey))
async def put_payout_method(body: PayoutMethodBody, caller: CallerDep, key: IdempotencyKey,
                            request: Request) -> PayoutMethodPublic:
    supported(body.currency)
    out = PayoutMethodPublic(kind=body.kind, masked=masked(body), currency=body.currency)

    async def work(conn):
        await conn.execute(
            "INSERT INTO payout_methods (creator_id, kind, details) VALUES ($1, $2, $3)"
            " ON CONFLICT (creator_id) DO UPDATE SET kind = EXCLUDED.kind,"
            " details = EXCLUDED.details, updated_at = now()",
            caller.user_id, body.kind, body.model_dump(mode="json"))
        version = await conn.fetchval(
            "INSERT INTO creators (creator_id, version) VALUES ($1, 1) ON CONFLICT (creator_id)"
            " DO UPDATE SET version = creators.version + 1 RETURNING version", caller.user_id)
        await emit(conn, caller.user_id, version, PayoutMethodSet(
            creator_id=caller.user_id, kind=body.kind, masked=out.masked))
        return 200, out.model_dump(mode="json")

    _, stored, _ = await run_once(request.app.state.pool, caller.user_id, key, request_hash(
        "PUT /v1/payout-method", body.model_dump(mode="json")), work)
    return PayoutMethodPublic.model_validate(stored)


class PayoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    diamonds: int = Field(gt=0, le=10**12, examples=[2000])
    method: Literal["bank", "paypal"] | None = Field(
        default=None, description="Optional; must match the method on file")
    currency: Currency | None = Field(
        default=None, description="Defaults to the payout method's currency")


@router.post("/payouts", status_code=201, summary="Request a payout of available diamonds",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, PayoutBanned, InsufficientDiamonds,
                 DailyCapExceeded, NoPayoutMethod, MethodMismatch, BelowMinimum,
                 UnsupportedCurrency, problems.IdempotencyKeyReused,
                 problems.MissingIdempotencyKey))
async def request_payout(body: PayoutCreate, caller: CallerDep, key: IdempotencyKey,
                         request: Request, response: Response) -> PayoutPublic:
    """Reserves the diamonds as pending (never more than available, and never past the daily
    maximum of the current UTC day: both decided inside PostgreSQL) and records
    `PayoutRequested`. Amounts above the review threshold wait for an admin."""
    now, config = clock(request), load_config()
    rates = config["rates"]
    if body.currency is not None:
        supported(body.currency)
    usd_per_diamond = Decimal(rates["usd_per_diamond"])
    usd, _ = diamonds_to_fiat(body.diamonds, usd_per_diamond, Decimal(1), "USD")
    if below_minimum(usd.amount_minor, config["minimum_payout_usd_minor"]):
        raise BelowMinimum(f"{body.diamonds} diamonds = {usd.amount_minor} US cents; minimum is "
                           f"{config['minimum_payout_usd_minor']}")
    cap = config["daily_max_usd_minor"]
    if over_daily_cap(0, usd.amount_minor, cap):
        raise DailyCapExceeded(f"{usd.amount_minor} US cents exceeds the daily maximum {cap}")
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type, now)
    if why:
        raise NotEligible(why)
    review = requires_review(usd.amount_minor, config["review_above_usd_minor"])
    day = payout_day(now)

    async def work(conn):
        await refuse_when_banned(conn, caller.user_id, now, config["banned_may_withdraw"])
        on_file = await conn.fetchrow(
            "SELECT kind, coalesce(details->>'currency', 'USD') AS currency FROM payout_methods"
            " WHERE creator_id = $1", caller.user_id)
        if on_file is None:
            raise NoPayoutMethod("PUT /v1/payout-method first")
        method = on_file["kind"]
        if body.method and body.method != method:
            raise MethodMismatch(f"{body.method} requested, {method} on file")
        currency = supported(body.currency or on_file["currency"])
        amount, fx = diamonds_to_fiat(body.diamonds, usd_per_diamond,
                                      Decimal(rates["usd_per_unit"][currency]), currency)
        row = await conn.fetchrow(
            "UPDATE creators SET pending = pending + $2, version = version + 1, updated_at = now()"
            " WHERE creator_id = $1 AND earned - held - pending - paid >= $2"
            " RETURNING earned - held - pending - paid AS available, version",
            caller.user_id, body.diamonds)
        if row is None:
            raise InsufficientDiamonds(f"{body.diamonds} diamonds requested")
        used = await conn.fetchval(
            "INSERT INTO payout_days (creator_id, day, usd_minor) VALUES ($1, $2, $3)"
            " ON CONFLICT (creator_id, day) DO UPDATE"
            " SET usd_minor = payout_days.usd_minor + EXCLUDED.usd_minor"
            " WHERE payout_days.usd_minor + EXCLUDED.usd_minor <= $4 RETURNING usd_minor",
            caller.user_id, day, usd.amount_minor, cap)
        if used is None:
            raise DailyCapExceeded(f"{usd.amount_minor} US cents more would pass the maximum of "
                                   f"{cap} for {day} (UTC)")
        payout_id = uuid4()
        await conn.execute(
            "INSERT INTO payouts (payout_id, creator_id, diamonds, amount_minor, currency, method,"
            " status, usd_minor, requires_review, requested_at, day, settle_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", payout_id,
            caller.user_id, body.diamonds, amount.amount_minor, amount.currency, method,
            "review" if review else "pending", usd.amount_minor, review, now, day,
            None if review else settle_by(now, config["settle_timeout_seconds"]))
        event = await emit(conn, caller.user_id, row["version"], PayoutRequested(
            payout_id=str(payout_id), creator_id=caller.user_id, diamonds=body.diamonds,
            amount=amount, usd_per_diamond=usd_per_diamond, fx_rate=fx,
            rates_version=rates["version"], method=method,
            available_after=row["available"], requires_review=review))
        out = PayoutPublic(payout_id=payout_id, event_id=event.id,
                           status="review" if review else "pending", diamonds=body.diamonds,
                           amount=amount, usd_minor=usd.amount_minor, requires_review=review,
                           available_after=row["available"])
        return 201, out.model_dump(mode="json")

    status, out, replayed = await run_once(
        request.app.state.pool, caller.user_id, key,
        request_hash("POST /v1/payouts", body.model_dump(mode="json")), work)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return PayoutPublic.model_validate(out)


async def refuse_when_banned(conn, user_id: str, now: datetime, banned_may_withdraw: bool):
    rows = await conn.fetch(
        "SELECT scopes, expires_at FROM bans WHERE user_id = $1 AND lifted_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > $2)", user_id, now)
    why = ban_refusal([ActiveBan(frozenset(r["scopes"]), r["expires_at"]) for r in rows],
                      banned_may_withdraw)
    if why:
        raise PayoutBanned(why)


@router.get("/payouts/{payout_id}", summary="One of the caller's payouts",
            responses=problems.problem_responses(problems.Unauthorized, PayoutNotFound))
async def get_payout(payout_id: UUID, caller: CallerDep, request: Request) -> PayoutPublic:
    row = await load_payout(request.app.state.pool, payout_id)
    if row["creator_id"] != caller.user_id and not caller.has("admin"):
        raise PayoutNotFound(str(payout_id))  # someone else's: do not reveal it exists
    return public(row)


def create(settings: Settings) -> FastAPI:
    app = create_app("Coinstream payout", "payout", settings,
                     [router, admin.router, callbacks.router],
                     description="Creator earnings and payouts.")
    app.state.clock = lambda: datetime.now(UTC)
    app.state.payout_settings = PayoutSettings()
    return app
