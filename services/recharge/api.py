"""Recharge HTTP app: the coin catalog (here), purchases (purchases.py), provider webhooks
(webhooks.py), the admin sanctions API (admin.py) and promotions (promotions.py)."""

from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import verify
from eventkit.deps import system_clock
from eventkit.http import create_app
from eventkit.settings import Settings, narrowed
from policy.countries import CountryNotServed, ServedCountry, served
from schemas.money import Money
from services.recharge import admin, promotions, purchases, webhooks
from services.recharge.bootstrap import wire
from services.recharge.pricing import load_catalog
from services.recharge.settings import RechargeSettings

router = APIRouter(prefix="/v1", tags=["catalog"])


class BundleOffer(BaseModel):
    bundle_id: str
    coins: int
    price: Money


class CustomAmount(BaseModel):
    min_coins: int
    max_coins: int
    example: BundleOffer = Field(description="What min_coins would cost")


class CatalogPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 2,
                    "rates_version": 2,
                    "country": "GB",
                    "channel": "web",
                    "currency": "GBP",
                    "price_list": "GB",
                    "bundles": [
                        {
                            "bundle_id": "coins_65",
                            "coins": 65,
                            "price": {"amount_minor": 67, "currency": "GBP"},
                        }
                    ],
                    "custom": {
                        "min_coins": 30,
                        "max_coins": 500000,
                        "example": {
                            "bundle_id": "custom",
                            "coins": 30,
                            "price": {"amount_minor": 31, "currency": "GBP"},
                        },
                    },
                }
            ]
        }
    )

    version: int
    rates_version: int
    country: str
    channel: str
    currency: str
    price_list: str
    bundles: list[BundleOffer]
    custom: CustomAmount


_optional_bearer = HTTPBearer(auto_error=False)


@router.get(
    "/catalog",
    summary="Coin bundles with the price a buyer in a country would pay",
    responses=problems.problem_responses(problems.Unauthorized, CountryNotServed),
    # Public: the bearer token is optional (`{}` = anonymous allowed beside HTTPBearer)
    openapi_extra={"security": [{}]},
)
async def get_catalog(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
    country: Annotated[
        ServedCountry | None,
        Query(
            examples=["GB"],
            description="Default: the caller's country (with a bearer token), else US",
        ),
    ] = None,
    channel: Literal["web", "in_app"] = "in_app",
) -> CatalogPublic:
    """Public. Prices are in the country's local currency (integer minor units); web is cheaper
    than in-app (no app-store fee). With a bearer token and no `country`, the caller's own
    prices. The catalog is data (catalog.json) with a version every purchase records."""
    if country is None and credentials is not None:
        country = verify(request.app.state.settings, credentials.credentials).country
    country = served(country or "US")  # the one country rule every service applies
    catalog = load_catalog()
    name, plist = catalog.price_list_for(country)
    low, high = catalog.custom_range
    smallest = catalog.quote_custom(low, country, channel)
    return CatalogPublic(
        version=catalog.version,
        rates_version=catalog.raw["rates"]["version"],
        country=country,
        channel=channel,
        currency=plist["currency"],
        price_list=name,
        bundles=[
            BundleOffer(bundle_id=o.bundle_id, coins=o.coins, price=o.price)
            for o in catalog.offers(country, channel)
        ],
        custom=CustomAmount(
            min_coins=low,
            max_coins=high,
            example=BundleOffer(bundle_id=smallest.bundle_id, coins=low, price=smallest.price),
        ),
    )


async def _wire(app: FastAPI) -> None:
    app.state.recharge = recharge = wire(app.state.recharge_settings, app.state.pool, app)
    app.state.provider = recharge.provider


async def _unwire(app: FastAPI) -> None:
    await app.state.recharge.close()


def _state(app: FastAPI, local: RechargeSettings) -> FastAPI:
    app.state.clock = system_clock
    app.state.recharge_settings = local
    return app


def create(settings: Settings, recharge_settings: RechargeSettings | None = None) -> FastAPI:
    app = create_app(
        "Coinstream recharge",
        "recharge",
        settings,
        [
            router,
            purchases.router,
            webhooks.router,
            admin.router,
            promotions.admin_router,
            promotions.router,
        ],
        _wire,
        description=DESCRIPTION,
        on_stop=_unwire,
    )
    return _state(app, recharge_settings or narrowed(settings, RechargeSettings))


def receiver(settings: Settings, local: RechargeSettings, pool: asyncpg.Pool) -> FastAPI:
    """The webhook route alone on `pool`, never served: the in-process delivery target of a
    process without a server (bootstrap)."""
    app = create_app("Coinstream recharge webhooks", "recharge", settings, [webhooks.router])
    app.state.pool = pool
    return _state(app, local)


DESCRIPTION = """Buying coins with real money.

* `GET /v1/catalog`: bundles and custom amounts priced in the buyer's currency and channel.
* `POST /v1/purchases`: answers **202 pending**; the payment provider confirms or declines it
  later through a signed webhook (`/v1/webhooks/sandbox`). Sandbox test tokens for
  `payment_method`: `sandbox_success` (default), `sandbox_decline`, `sandbox_timeout`.
* Refunds and chargebacks arrive from the provider only; there is no refund endpoint.
* `/v1/admin/bans`: admins place and lift transaction bans (role `admin`).
* Promotions: `/v1/admin/campaigns` (admins create campaigns and issue single-use codes), a
  `promo_code` on `POST /v1/purchases` (bonus coins or a discount), `POST /v1/coupons/redeem`
  (bonus coins with no purchase). See docs/promotions.md.

Errors are RFC 9457 `application/problem+json`. See docs/recharge.md."""
