"""Buying coins: POST /v1/purchases creates a pending purchase and a payment with the provider;
the provider's signed webhook later confirms it (CoinPurchased) or fails it (PurchaseFailed).

Every refusal is decided before anything is written, or inside the transaction that would write
(bans and velocity limits, under a per-buyer lock so concurrent purchases cannot both squeeze
under a limit), and then rolls back: a refused purchase records and emits nothing."""

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from eventkit import problems
from eventkit.auth import Caller, CallerDep
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count, query_int
from eventkit.idempotency import IdempotencyKey, respond_once
from policy.eligibility import load_policy, refusal
from policy.spending import Band, load_spending_policy
from schemas.events.recharge import PurchaseCreated
from schemas.money import Currency, Money
from services.recharge import bans, limits
from services.recharge import promotions_store as promos
from services.recharge.bootstrap import ProviderDep, RechargeSettingsDep
from services.recharge.errors import (
    AmountOutOfRange,
    Banned,
    BundleNotFound,
    CurrencyMismatch,
    NotEligible,
    OverDailyLimit,
    PurchaseNotFound,
    RechargeMonthlyCap,
    TooManyPurchases,
    UnknownPaymentMethod,
)
from services.recharge.payments import emit
from services.recharge.pricing import AmountOutOfRange as OutOfRange
from services.recharge.pricing import Quote, UnknownBundle, load_catalog
from services.recharge.promotions_decide import discount_off, refuse
from services.recharge.promotions_errors import REDEEM_REFUSALS, DiscountTooLarge
from services.recharge.provider import PaymentOrder
from services.recharge.sandbox import DEFAULT_TOKEN
from services.recharge.views import PurchasePublic, public

router = APIRouter(prefix="/v1", tags=["purchases"])


class _PurchaseFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["web", "in_app"] = "in_app"
    currency: Currency | None = Field(
        default=None,
        description="Optional check: the currency the client showed the buyer; "
        "refused with 409 currency-mismatch when it is not the "
        "buyer's charge currency",
    )
    payment_method: str = Field(
        default=DEFAULT_TOKEN,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Provider payment-method token (404 unknown-payment-method when the "
        "provider does not know it). Sandbox test tokens: sandbox_success, "
        "sandbox_decline, sandbox_timeout",
    )
    promo_code: str | None = Field(
        default=None,
        min_length=4,
        max_length=24,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 \-]*$",
        examples=["WELCOME10"],
        description="A promo code (any case; dashes and spaces ignored): bonus coins granted "
        "when the purchase completes, or a discount on its price. A failed purchase gives "
        "the code back. Refusals: docs/promotions.md",
    )


class BundlePurchase(_PurchaseFields):
    """One of the catalog's bundles (GET /v1/catalog `bundles`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"bundle_id": "coins_3500", "channel": "web"},
                {"bundle_id": "coins_70", "channel": "web", "payment_method": "sandbox_decline"},
            ]
        },
    )

    bundle_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$", examples=["coins_3500"]
    )


class CustomPurchase(_PurchaseFields):
    """A custom number of coins, priced per coin."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"custom_coins": 12000, "channel": "in_app", "currency": "USD"}]
        },
    )

    # The catalog's range is data that changes without a restart (GET /v1/catalog
    # `custom.min_coins`..`max_coins`), so it is checked against the current catalog (409), not
    # fixed in this document.
    custom_coins: Count = Field(
        gt=0,
        le=10**9,
        description="Within the current catalog's custom.min_coins.."
        "custom.max_coins, else 409 amount-out-of-range",
    )


def _purchase_kind(body) -> str | None:
    if isinstance(body, BaseModel):
        return "custom" if isinstance(body, CustomPurchase) else "bundle"
    if not isinstance(body, dict):
        return "bundle"  # not an object at all: refused as such by either variant
    bundle, custom = "bundle_id" in body, "custom_coins" in body
    return "bundle" if bundle and not custom else "custom" if custom and not bundle else None


# Exactly one of the two: each forbids the other's field, so the document's oneOf and the
# validator agree; a body with both or neither gets one clear 422 saying so.
PurchaseCreate = Annotated[
    Annotated[BundlePurchase, Tag("bundle")] | Annotated[CustomPurchase, Tag("custom")],
    Discriminator(
        _purchase_kind,
        custom_error_type="bundle-or-custom",
        custom_error_message="give exactly one of bundle_id and custom_coins",
    ),
]


def quote_for(body: BundlePurchase | CustomPurchase, caller: Caller) -> Quote:
    catalog = load_catalog()
    try:
        if isinstance(body, CustomPurchase):
            quote = catalog.quote_custom(body.custom_coins, caller.country, body.channel)
        else:
            quote = catalog.quote(body.bundle_id, caller.country, body.channel)
    except UnknownBundle as exc:
        raise BundleNotFound(str(exc)) from None
    except OutOfRange as exc:
        low, high = catalog.custom_range
        raise AmountOutOfRange(
            str(exc), min_coins=low, max_coins=high, catalog_version=catalog.version
        ) from None
    if body.currency and body.currency != quote.price.currency:
        raise CurrencyMismatch(
            f"{caller.country} is charged in {quote.price.currency}, not {body.currency}"
        )
    return quote


async def check_limits(
    conn, user_id: str, quote: Quote, lim: limits.Limits, now, band: Band | None = None
) -> None:
    """Raises TooManyPurchases (with Retry-After) when one more purchase does not fit, and
    RechargeMonthlyCap past the age band's monthly cap. Failed attempts count towards the
    hourly number (a burst of declines is itself a signal), not towards the spend."""
    rows = await conn.fetch(
        "SELECT created_at, status, settlement_minor FROM purchases WHERE user_id = $1"
        " AND created_at > $2",
        user_id,
        now - limits.DAY,
    )
    wait = limits.wait_for_count(
        [r["created_at"] for r in rows], now, limits.HOUR, lim.purchases_per_hour
    )
    if wait is not None:
        raise TooManyPurchases(
            f"at most {lim.purchases_per_hour} purchases per hour", limits.retry_after_header(wait)
        )
    spent = [(r["created_at"], r["settlement_minor"] or 0) for r in rows if r["status"] != "failed"]
    wait = limits.wait_for_spend(
        spent, now, limits.DAY, lim.spend_per_day_minor, quote.settlement.amount_minor
    )
    if wait is not None:
        raise TooManyPurchases(
            f"at most {lim.spend_per_day_minor} {quote.settlement.currency}"
            " minor units per 24 hours",
            limits.retry_after_header(wait),
        )
    if band is not None and band.recharge_monthly_minor is not None:
        spent = await conn.fetchval(
            "SELECT coalesce(sum(price_minor), 0)::bigint FROM purchases WHERE user_id = $1"
            " AND status <> 'failed' AND created_at >= $2 AND price_currency = $3",
            user_id,
            limits.month_start(now),
            quote.price.currency,
        )
        refuse(limits.recharge_cap_refusal(band, spent, quote.price.amount_minor, now))


def within_daily_limit(charged: Quote, limit_minor: int) -> None:
    """OverDailyLimit when the settlement of what the buyer is charged (after a discount code)
    alone exceeds the daily spend limit."""
    if charged.settlement.amount_minor > limit_minor:
        raise OverDailyLimit(
            f"{charged.settlement.amount_minor} > {limit_minor}"
            f" {charged.settlement.currency} minor units per 24 hours"
        )


async def with_code(conn, code: str, quote: Quote, country: str, now) -> tuple:
    """The code's campaign, checked for this purchase, and the quote it leaves: (found row,
    quote to charge, discount, what the discount costs in settlement)."""
    campaign, found = await promos.find(conn, code)
    refuse(campaign.refusal("promo_code", country, now))
    if campaign.discount_bp is None:
        return found, quote, None, None
    off = discount_off(quote.price, campaign.discount_bp)
    charged = load_catalog().discounted(quote, off)
    cost = quote.settlement.amount_minor - charged.settlement.amount_minor
    return found, charged, off, Money(amount_minor=cost, currency=charged.settlement.currency)


@router.post(
    "/purchases",
    status_code=202,
    summary="Buy coins (a bundle or a custom amount)",
    responses=problems.problem_responses(
        problems.Unauthorized,
        NotEligible,
        Banned,
        BundleNotFound,
        AmountOutOfRange,
        CurrencyMismatch,
        UnknownPaymentMethod,
        OverDailyLimit,
        TooManyPurchases,
        RechargeMonthlyCap,
        *REDEEM_REFUSALS,
        DiscountTooLarge,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def create_purchase(
    body: PurchaseCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    now: ClockDep,
    provider: ProviderDep,
    local: RechargeSettingsDep,
) -> PurchasePublic:
    """Creates the purchase (`PurchaseCreated`, status `pending`) and a payment with the
    provider, and answers 202. The coins come with `CoinPurchased` once the provider's signed
    webhook confirms the payment; a decline or no answer within the payment timeout ends it
    as `PurchaseFailed`. Poll `GET /v1/purchases/{purchase_id}` (or the wallet) for the outcome.

    A retry with the same Idempotency-Key replays the first answer; the same key with another
    body is a 409. Refused with 403 when under age, in a country not served, or banned from
    buying or past the age band's monthly recharge cap; 429 with Retry-After past the
    velocity limits. A `promo_code` is checked and one use of it held in the same transaction
    (every refusal of docs/promotions.md names its reason); it takes effect with
    `CoinPurchased` and is given back if the purchase fails."""
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type, now)
    if why:
        raise NotEligible(why)
    country = caller.country
    assert country is not None  # refusal() refuses an unknown country
    quote = quote_for(body, caller)
    if not provider.accepts(body.payment_method):
        raise UnknownPaymentMethod(f"{provider.name} does not know {body.payment_method!r}")
    if body.promo_code is None:  # else once the code's discount is known, in the transaction
        within_daily_limit(quote, local.max_spend_per_day_minor)
    band = load_spending_policy().band_of(country, caller.birthdate, now)

    async def work(conn):
        # One purchase decision per buyer at a time: the limits below see every earlier one.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"buyer:{caller.user_id}"
        )
        if await bans.active(conn, caller.user_id, "buy", now):
            raise Banned("this account is banned from buying coins")
        purchase_id, charged, found, off, cost = uuid4(), quote, None, None, None
        code = body.promo_code
        if code is not None:
            found, charged, off, cost = await with_code(conn, code, quote, country, now)
            within_daily_limit(charged, local.max_spend_per_day_minor)
        await check_limits(conn, caller.user_id, charged, local.limits, now, band)
        if code is not None:  # its purchase row follows in this transaction (deferred FK)
            await promos.take(
                conn,
                found,
                code,
                caller.user_id,
                country,
                "promo_code",
                now,
                purchase_id,
                off,
                cost,
            )
        txn = await provider.create_payment(
            conn, PaymentOrder(purchase_id, caller.user_id, charged.price, body.payment_method)
        )
        row = await conn.fetchrow(
            "INSERT INTO purchases (purchase_id, user_id, bundle_id, coins, channel, country,"
            " price_minor, price_currency, settlement_minor, settlement_currency, quote, status,"
            " provider, provider_txn_id, payment_method, created_at, pay_by) VALUES ($1, $2, $3,"
            " $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13, $14, $15, $16) RETURNING *",
            purchase_id,
            caller.user_id,
            charged.bundle_id,
            charged.coins,
            charged.channel,
            caller.country,
            charged.price.amount_minor,
            charged.price.currency,
            charged.settlement.amount_minor,
            charged.settlement.currency,
            {
                "fee": charged.fee.model_dump(),
                "fx_rate": str(charged.fx_rate),
                "fee_rate": str(charged.fee_rate),
                "catalog_version": charged.catalog_version,
                "rates_version": charged.rates_version,
                "price_list": charged.price_list,
            },
            provider.name,
            txn,
            body.payment_method,
            now,
            now + timedelta(seconds=local.payment_timeout_seconds),
        )
        event = await emit(
            conn,
            purchase_id,
            1,
            PurchaseCreated(
                purchase_id=str(purchase_id),
                user_id=caller.user_id,
                bundle_id=charged.bundle_id,
                coins=charged.coins,
                country=country,
                channel=charged.channel,
                price=charged.price,
                catalog_version=charged.catalog_version,
                provider=provider.name,
                provider_txn_id=txn,
                campaign_id=found["campaign_id"] if found else None,
                discount=off,
            ),
            caller.user_id,
        )
        return 202, public(row, event.id).model_dump(mode="json")

    out = await respond_once(request, response, caller.user_id, key, body, work, PurchasePublic)
    if out.provider_txn_id is not None and "Idempotent-Replayed" not in response.headers:
        provider.after_commit(out.provider_txn_id)
    return out


@router.get(
    "/purchases/{purchase_id}",
    summary="One of the caller's purchases",
    responses=problems.problem_responses(problems.Unauthorized, PurchaseNotFound),
)
async def get_purchase(
    purchase_id: Annotated[UUID, Path()], caller: CallerDep, pool: PoolDep
) -> PurchasePublic:
    row = await pool.fetchrow(
        "SELECT * FROM purchases WHERE purchase_id = $1 AND user_id = $2 AND quote IS NOT NULL",
        purchase_id,
        caller.user_id,
    )
    if row is None:
        raise PurchaseNotFound(str(purchase_id))
    return public(row)


class PurchaseList(BaseModel):
    purchases: list[PurchasePublic]


@router.get(
    "/purchases",
    summary="The caller's purchases, newest first",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def list_purchases(
    caller: CallerDep, pool: PoolDep, limit: Annotated[int, *query_int(1, 200), Query()] = 50
) -> PurchaseList:
    rows = await pool.fetch(
        "SELECT * FROM purchases WHERE user_id = $1 AND quote IS NOT NULL"
        " ORDER BY created_at DESC LIMIT $2",
        caller.user_id,
        limit,
    )
    return PurchaseList(purchases=[public(r) for r in rows])
