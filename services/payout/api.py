"""Payout HTTP API for creators: earnings, payout method, payout requests and their status.
Admin review lives in admin.py, the provider's settlement webhooks in webhooks.py."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import bans, problems
from eventkit.auth import CallerDep
from eventkit.deps import ClockDep, PoolDep, system_clock
from eventkit.fields import BLANK, Count, Reason, query_int
from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey, respond_once
from eventkit.settings import Settings, narrowed
from policy.eligibility import load_policy, refusal
from schemas.events.payout import PayoutMethodSet, PayoutRequested
from schemas.money import Money
from services.payout import admin, webhooks
from services.payout.conversion import PayoutConfig, diamonds_to_fiat, load_config
from services.payout.domain import (
    ActiveBan,
    ban_refusal,
    below_minimum,
    minimum_diamonds,
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
    RatesChanged,
    UnsupportedCurrency,
)
from services.payout.ledger import emit
from services.payout.lifecycle import settle_by
from services.payout.settings import PayoutSettings
from services.payout.views import PayoutPublic, config, load_payout, public

router = APIRouter(prefix="/v1", tags=["payout"])


class DayEarnings(BaseModel):
    day: date
    diamonds: int


class StreamEarnings(BaseModel):
    stream_id: str
    diamonds: int


class RatesPublic(BaseModel):
    """The rates a payout requested now is converted at. A request names the version it was
    shown (rates_version) and is refused with 409 rates-changed when it is no longer current."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 1,
                    "usd_per_diamond": "0.005",
                    "usd_per_unit": {"USD": "1", "GBP": "1.27", "EUR": "1.08"},
                    "minimum_payout_usd_minor": 1000,
                }
            ]
        }
    )

    version: int
    usd_per_diamond: Decimal = Field(description="US dollars one diamond pays (exact decimal)")
    usd_per_unit: dict[str, Decimal] = Field(
        description="US dollars per unit of each payout currency (the FX rate is its inverse)"
    )
    minimum_payout_usd_minor: int


def rates_public(cfg: PayoutConfig) -> RatesPublic:
    r = cfg.rates
    return RatesPublic(
        version=r.version,
        usd_per_diamond=r.usd_per_diamond,
        usd_per_unit=dict(r.usd_per_unit),
        minimum_payout_usd_minor=cfg.minimum_payout_usd_minor,
    )


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
    rates: RatesPublic = Field(description="What a payout requested now is converted at")


@router.get(
    "/earnings",
    summary="The caller's diamond balances, per UTC day and per stream",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def get_earnings(
    caller: CallerDep,
    request: Request,
    pool: PoolDep,
    now: ClockDep,
    days: Annotated[int, *query_int(1, 366), Query()] = 30,
) -> EarningsPublic:
    since = now - timedelta(days=days)
    row = await pool.fetchrow(
        "SELECT earned, held, pending, paid FROM creators WHERE creator_id = $1", caller.user_id
    )
    e, h, p, d = (row["earned"], row["held"], row["pending"], row["paid"]) if row else (0, 0, 0, 0)
    per_day = await pool.fetch(
        "SELECT (earned_at AT TIME ZONE 'UTC')::date AS day, sum(diamonds)::bigint AS diamonds"
        " FROM credits WHERE creator_id = $1 AND earned_at >= $2 GROUP BY 1 ORDER BY 1 DESC",
        caller.user_id,
        since,
    )
    per_stream = await pool.fetch(
        "SELECT stream_id, sum(diamonds)::bigint AS diamonds FROM credits WHERE creator_id = $1"
        " AND stream_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 100",
        caller.user_id,
    )
    return EarningsPublic(
        creator_id=caller.user_id,
        earned=e,
        held=h,
        pending=p,
        paid=d,
        available=e - h - p - d,
        per_day=[DayEarnings(**dict(r)) for r in per_day],
        per_stream=[StreamEarnings(**dict(r)) for r in per_stream],
        rates=rates_public(config(request)),
    )


# The payout currencies are the config's (rates.usd_per_unit), fixed for the life of the process:
# the document lists them as an enum and the body is validated against the same list, so any
# other code is a 422 validation error before any state is looked at. supported() still checks
# the config in force for the currency on file.
if TYPE_CHECKING:
    PayoutCurrency = str  # the configured codes, known only when the config is read
else:
    PayoutCurrency = Literal[tuple(sorted(load_config().rates.usd_per_unit))]

PAYOUT_CURRENCY = (
    "The creator's payout currency: payouts are paid in it (converted at the "
    "recorded FX rate) unless a request names another"
)


class BankMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["bank"]
    account_holder: Reason = Field(max_length=140)
    iban: str = Field(
        pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$", examples=["DE89370400440532013000"]
    )
    currency: PayoutCurrency = Field(default="USD", description=PAYOUT_CURRENCY)


class PaypalMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["paypal"]
    # No whitespace and no control character (NUL included) anywhere in the address.
    email: str = Field(pattern=f"^[^@{BLANK}]+@[^@{BLANK}]+\\.[^@{BLANK}]+$", max_length=254)
    currency: PayoutCurrency = Field(default="USD", description=PAYOUT_CURRENCY)


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


def supported(currency: str, cfg: PayoutConfig) -> str:
    """The currency, when payouts can be paid in it (config rates.usd_per_unit)."""
    units = cfg.rates.usd_per_unit
    if currency not in units:
        raise UnsupportedCurrency(f"{currency} is not one of {sorted(units)}")
    return currency


@router.put(
    "/payout-method",
    summary="Put the caller's payout method (bank or PayPal) on file",
    responses=problems.problem_responses(
        problems.Unauthorized,
        UnsupportedCurrency,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def put_payout_method(
    body: PayoutMethodBody,
    caller: CallerDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
) -> PayoutMethodPublic:
    supported(body.currency, config(request))
    out = PayoutMethodPublic(kind=body.kind, masked=masked(body), currency=body.currency)

    async def work(conn):
        await conn.execute(
            "INSERT INTO payout_methods (creator_id, kind, details) VALUES ($1, $2, $3)"
            " ON CONFLICT (creator_id) DO UPDATE SET kind = EXCLUDED.kind,"
            " details = EXCLUDED.details, updated_at = now()",
            caller.user_id,
            body.kind,
            body.model_dump(mode="json"),
        )
        version = await conn.fetchval(
            "INSERT INTO creators (creator_id, version) VALUES ($1, 1) ON CONFLICT (creator_id)"
            " DO UPDATE SET version = creators.version + 1 RETURNING version",
            caller.user_id,
        )
        await emit(
            conn,
            caller.user_id,
            version,
            PayoutMethodSet(creator_id=caller.user_id, kind=body.kind, masked=out.masked),
        )
        return 200, out.model_dump(mode="json")

    return await respond_once(
        request, response, caller.user_id, key, body, work, PayoutMethodPublic
    )


class PayoutCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"diamonds": 2000, "rates_version": 1},
                {"diamonds": 2000, "rates_version": 1, "method": "paypal", "currency": "EUR"},
            ]
        },
    )

    diamonds: Count = Field(
        gt=0,
        le=10**12,
        examples=[2000],
        description=(
            "At least the minimum payout (money: `minimum_payout_usd_minor` US cents) at the "
            "current rates, else 409 below-minimum naming `minimum_diamonds`; at most the daily "
            "maximum, else 409 daily-cap-exceeded"
        ),
    )
    rates_version: Count = Field(
        gt=0,
        le=2**31 - 1,
        examples=[1],
        description=(
            "The rates version the creator was shown (GET /v1/earnings `rates.version`, or "
            "GET /v1/payouts/quote): refused with 409 rates-changed when it is not current, so a "
            "payout is never converted at a rate the creator did not see"
        ),
    )
    method: Literal["bank", "paypal"] | None = Field(
        default=None, description="Optional; must match the method on file"
    )
    currency: PayoutCurrency | None = Field(
        default=None, description="Defaults to the payout method's currency"
    )


class PayoutQuote(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "diamonds": 2000,
                    "amount": {"amount_minor": 925, "currency": "EUR"},
                    "usd_minor": 1000,
                    "usd_per_diamond": "0.005",
                    "fx_rate": "0.925925925926",
                    "rates_version": 1,
                }
            ]
        }
    )

    diamonds: int
    amount: Money = Field(description="What the payout would pay, rounded down")
    usd_minor: int
    usd_per_diamond: Decimal
    fx_rate: Decimal = Field(description="Payout currency units per US dollar, as recorded")
    rates_version: int = Field(description="Name it in POST /v1/payouts")


async def currency_on_file(pool, creator_id: str) -> str | None:
    return await pool.fetchval(
        "SELECT coalesce(details->>'currency', 'USD') FROM payout_methods WHERE creator_id = $1",
        creator_id,
    )


@router.get(
    "/payouts/quote",
    summary="What a payout of some diamonds would pay now",
    responses=problems.problem_responses(
        problems.Unauthorized, BelowMinimum, DailyCapExceeded, UnsupportedCurrency
    ),
)
async def quote_payout(
    caller: CallerDep,
    request: Request,
    pool: PoolDep,
    diamonds: Annotated[
        int,
        *query_int(1, 10**12),
        Query(
            examples=[2000],
            description=(
                "At least the minimum payout at the current rates (else 409 below-minimum), at "
                "most the daily maximum (else 409 daily-cap-exceeded)"
            ),
        ),
    ],
    currency: Annotated[
        PayoutCurrency | None,
        Query(description="Default: the payout method's currency (USD with none on file)"),
    ] = None,
) -> PayoutQuote:
    """The amount at the current rates and the `rates_version` to name when requesting it.
    Reserves nothing: the request itself decides (and may still be refused)."""
    cfg = config(request)
    usd = usd_value(diamonds, cfg)
    currency = supported(currency or await currency_on_file(pool, caller.user_id) or "USD", cfg)
    rates = cfg.rates
    amount, fx = diamonds_to_fiat(
        diamonds,
        rates.usd_per_diamond,
        rates.usd_per_unit[currency],
        currency,
    )
    return PayoutQuote(
        diamonds=diamonds,
        amount=amount,
        usd_minor=usd.amount_minor,
        usd_per_diamond=rates.usd_per_diamond,
        fx_rate=fx,
        rates_version=rates.version,
    )


@router.post(
    "/payouts",
    status_code=201,
    summary="Request a payout of available diamonds",
    responses=problems.problem_responses(
        problems.Unauthorized,
        NotEligible,
        PayoutBanned,
        InsufficientDiamonds,
        DailyCapExceeded,
        NoPayoutMethod,
        MethodMismatch,
        BelowMinimum,
        UnsupportedCurrency,
        RatesChanged,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def request_payout(
    body: PayoutCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    now: ClockDep,
) -> PayoutPublic:
    """Reserves the diamonds as pending (never more than available, and never past the daily
    maximum of the current UTC day: both decided inside PostgreSQL) and records
    `PayoutRequested`. Amounts above the review threshold wait for an admin.

    `rates_version` must be the current one (409 `rates-changed` otherwise). The rate checks
    run only for a new request: a retry with the same Idempotency-Key replays the first answer
    even when the rates have moved on since."""
    cfg = config(request)
    rates = cfg.rates
    usd_per_diamond = rates.usd_per_diamond
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type, now)
    if why:
        raise NotEligible(why)
    day = payout_day(now)

    async def work(conn):
        if body.rates_version != rates.version:
            raise RatesChanged(
                f"rates version {body.rates_version} was shown; version {rates.version} is current",
                current_rates_version=rates.version,
            )
        if body.currency is not None:
            supported(body.currency, cfg)
        usd = usd_value(body.diamonds, cfg)
        review = requires_review(usd.amount_minor, cfg.review_above_usd_minor)
        await refuse_when_banned(conn, caller.user_id, now, cfg.banned_may_withdraw)
        on_file = await conn.fetchrow(
            "SELECT kind, coalesce(details->>'currency', 'USD') AS currency FROM payout_methods"
            " WHERE creator_id = $1",
            caller.user_id,
        )
        if on_file is None:
            raise NoPayoutMethod("PUT /v1/payout-method first")
        method = on_file["kind"]
        if body.method and body.method != method:
            raise MethodMismatch(f"{body.method} requested, {method} on file")
        currency = supported(body.currency or on_file["currency"], cfg)
        amount, fx = diamonds_to_fiat(
            body.diamonds, usd_per_diamond, rates.usd_per_unit[currency], currency
        )
        row = await conn.fetchrow(
            "UPDATE creators SET pending = pending + $2, version = version + 1, updated_at = now()"
            " WHERE creator_id = $1 AND earned - held - pending - paid >= $2"
            " RETURNING earned - held - pending - paid AS available, version",
            caller.user_id,
            body.diamonds,
        )
        if row is None:
            raise InsufficientDiamonds(f"{body.diamonds} diamonds requested")
        used = await conn.fetchval(
            "INSERT INTO payout_days (creator_id, day, usd_minor) VALUES ($1, $2, $3)"
            " ON CONFLICT (creator_id, day) DO UPDATE"
            " SET usd_minor = payout_days.usd_minor + EXCLUDED.usd_minor"
            " WHERE payout_days.usd_minor + EXCLUDED.usd_minor <= $4 RETURNING usd_minor",
            caller.user_id,
            day,
            usd.amount_minor,
            cfg.daily_max_usd_minor,
        )
        if used is None:
            raise DailyCapExceeded(
                f"{usd.amount_minor} US cents more would pass the maximum of "
                f"{cfg.daily_max_usd_minor} for {day} (UTC)"
            )
        payout_id = uuid4()
        await conn.execute(
            "INSERT INTO payouts (payout_id, creator_id, diamonds, amount_minor, currency, method,"
            " status, usd_minor, requires_review, requested_at, day, settle_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            payout_id,
            caller.user_id,
            body.diamonds,
            amount.amount_minor,
            amount.currency,
            method,
            "review" if review else "pending",
            usd.amount_minor,
            review,
            now,
            day,
            None if review else settle_by(now, cfg.settle_timeout_seconds),
        )
        event = await emit(
            conn,
            caller.user_id,
            row["version"],
            PayoutRequested(
                payout_id=str(payout_id),
                creator_id=caller.user_id,
                diamonds=body.diamonds,
                amount=amount,
                usd_per_diamond=usd_per_diamond,
                fx_rate=fx,
                rates_version=rates.version,
                method=method,
                available_after=row["available"],
                requires_review=review,
            ),
        )
        out = PayoutPublic(
            payout_id=payout_id,
            event_id=event.id,
            status="review" if review else "pending",
            diamonds=body.diamonds,
            amount=amount,
            usd_minor=usd.amount_minor,
            requires_review=review,
            available_after=row["available"],
        )
        return 201, out.model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, PayoutPublic)


def usd_value(diamonds: int, cfg: PayoutConfig) -> Money:
    """What `diamonds` are worth in US cents at the config's rates; refused below the minimum
    payout or above the daily maximum on its own."""
    usd_per_diamond = cfg.rates.usd_per_diamond
    usd, _ = diamonds_to_fiat(diamonds, usd_per_diamond, Decimal(1), "USD")
    minimum = cfg.minimum_payout_usd_minor
    if below_minimum(usd.amount_minor, minimum):
        raise BelowMinimum(
            f"{diamonds} diamonds = {usd.amount_minor} US cents; minimum is {minimum}",
            minimum_diamonds=minimum_diamonds(minimum, usd_per_diamond),
            rates_version=cfg.rates.version,
        )
    cap = cfg.daily_max_usd_minor
    if over_daily_cap(0, usd.amount_minor, cap):
        raise DailyCapExceeded(f"{usd.amount_minor} US cents exceeds the daily maximum {cap}")
    return usd


async def refuse_when_banned(conn, user_id: str, now: datetime, banned_may_withdraw: bool):
    rows = await conn.fetch(
        f"SELECT scopes, expires_at FROM bans WHERE {bans.active('$1', now='$2')}",
        user_id,
        now,
    )
    why = ban_refusal(
        [ActiveBan(frozenset(r["scopes"]), r["expires_at"]) for r in rows], banned_may_withdraw
    )
    if why:
        raise PayoutBanned(why)


@router.get(
    "/payouts/{payout_id}",
    summary="One of the caller's payouts",
    responses=problems.problem_responses(problems.Unauthorized, PayoutNotFound),
)
async def get_payout(payout_id: UUID, caller: CallerDep, pool: PoolDep) -> PayoutPublic:
    row = await load_payout(pool, payout_id)
    if row["creator_id"] != caller.user_id and not caller.has("admin"):
        raise PayoutNotFound(str(payout_id))  # someone else's: do not reveal it exists
    return public(row)


def create(settings: Settings) -> FastAPI:
    app = create_app(
        "Coinstream payout",
        "payout",
        settings,
        [router, admin.router, webhooks.router],
        description="Creator earnings and payouts.",
    )
    app.state.clock = system_clock
    app.state.config = load_config
    app.state.payout_settings = narrowed(settings, PayoutSettings)
    return app
