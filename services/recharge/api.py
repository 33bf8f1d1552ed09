"""Recharge HTTP API: the coin catalog and purchases."""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.eventstore import append
from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey, request_hash, run_once
from eventkit.settings import Settings
from schemas import topics
from schemas.events.recharge import CoinPurchased
from schemas.money import Country, Money
from services.recharge.errors import BundleNotFound, NotEligible, PaymentDeclined
from services.recharge.pricing import PriceUnavailable, UnknownBundle, load_catalog
from services.recharge.provider import SandboxProvider
from services.rules.eligibility import load_policy, refusal

SOURCE = "/coinstream/recharge"
router = APIRouter(prefix="/v1", tags=["recharge"])


class BundleOffer(BaseModel):
    bundle_id: str
    coins: int
    price: Money


class CatalogPublic(BaseModel):
    version: int
    country: str
    channel: str
    bundles: list[BundleOffer]


class PurchaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bundle_id: str = Field(min_length=1, max_length=64, examples=["coins_70"])
    channel: Literal["web", "in_app"] = "in_app"


class PurchasePublic(BaseModel):
    purchase_id: UUID
    status: str
    bundle_id: str
    coins: int
    price: Money
    event_id: UUID | None = None


@router.get("/catalog", summary="Coin bundles with the price the caller would pay")
async def get_catalog(country: Annotated[Country, Query(examples=["US"])] = "US",
                      channel: Literal["web", "in_app"] = "in_app") -> CatalogPublic:
    catalog = load_catalog()
    offers = []
    for bundle_id in catalog.raw["bundles"]:
        q = catalog.quote(bundle_id, country, channel)
        offers.append(BundleOffer(bundle_id=bundle_id, coins=q.coins, price=q.price))
    return CatalogPublic(version=catalog.version, country=country, channel=channel,
                         bundles=offers)


@router.post("/purchases", status_code=201, summary="Buy a coin bundle",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, BundleNotFound, PaymentDeclined,
                 problems.IdempotencyKeyReused, problems.MissingIdempotencyKey))
async def create_purchase(body: PurchaseCreate, caller: CallerDep, key: IdempotencyKey,
                          request: Request, response: Response) -> PurchasePublic:
    """Charges the caller through the payment provider and, once the charge succeeds, grants the
    bundle's coins (`CoinPurchased`). A retry with the same Idempotency-Key replays the result."""
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type,
                  date.today())
    if why:
        raise NotEligible(why)
    try:
        quote = load_catalog().quote(body.bundle_id, caller.country, body.channel)
    except (UnknownBundle, PriceUnavailable) as exc:
        raise BundleNotFound(str(exc)) from None
    provider = request.app.state.provider

    async def work(conn):
        purchase_id = uuid4()
        charge = await provider.charge(str(purchase_id), quote.price)
        if charge.status != "succeeded":
            raise PaymentDeclined(charge.reason)
        await conn.execute(
            "INSERT INTO purchases (purchase_id, user_id, bundle_id, coins, channel, country,"
            " price_minor, price_currency, status, provider, provider_txn_id)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'confirmed',$9,$10)",
            purchase_id, caller.user_id, quote.bundle_id, quote.coins, quote.channel,
            caller.country, quote.price.amount_minor, quote.price.currency, provider.name,
            charge.provider_txn_id)
        event = new_envelope(SOURCE, CoinPurchased(
            purchase_id=str(purchase_id), user_id=caller.user_id, bundle_id=quote.bundle_id,
            coins=quote.coins, country=caller.country, channel=quote.channel,
            price=quote.price, settlement=quote.settlement, fee=quote.fee, fx_rate=quote.fx_rate,
            catalog_version=quote.catalog_version, rates_version=quote.rates_version,
            provider=provider.name, provider_txn_id=charge.provider_txn_id),
            aggregate_id=f"purchase-{purchase_id}", aggregate_version=1, subject=caller.user_id)
        await append(conn, topics.RECHARGE_EVENTS, event)
        out = PurchasePublic(purchase_id=purchase_id, status="confirmed", bundle_id=quote.bundle_id,
                             coins=quote.coins, price=quote.price, event_id=event.id)
        return 201, out.model_dump(mode="json")

    status, body_out, replayed = await run_once(
        request.app.state.pool, caller.user_id, key,
        request_hash("POST /v1/purchases", body.model_dump(mode="json")), work)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return PurchasePublic.model_validate(body_out)


async def _wire(app: FastAPI) -> None:
    app.state.provider = SandboxProvider()


def create(settings: Settings) -> FastAPI:
    return create_app("Coinstream recharge", "recharge", settings, [router], _wire,
                      description="Buying coin bundles with real money.")
