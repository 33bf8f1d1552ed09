"""Subscriptions to a creator, paid in coins per month: the creator's price, subscribing,
gifting subscriptions, cancelling, and entitlements (months and badge tier). Renewals are the
worker's (subscription_renewals); the rules are subscription_rules; SQL is subscription_store.
"""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas.text import Id
from services.gifting import accounts
from services.gifting import subscription_store as store
from services.gifting.errors import (
    Banned,
    InsufficientCoins,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    RecipientNotFound,
    SellerNotEligible,
)
from services.gifting.subscription_errors import (
    AlreadySubscribed,
    SelfSubscription,
    SubscriptionNotFound,
    SubscriptionNotOffered,
    ViewerNotEligible,
)
from services.gifting.subscription_rules import load_config
from services.gifting.unlocks import check_seller

router = APIRouter(prefix="/v1", tags=["subscriptions"])
CONFIG = load_config()
CreatorId = Annotated[Id, Path(examples=["creator-1"])]


class SubscriptionPriceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"coins": 500}]})

    coins: Count = Field(
        ge=CONFIG.min_coins,
        le=CONFIG.max_coins,
        description="Coins per one-month period, within the platform's bounds"
        " (services/gifting/subscription_config.json)",
    )


class SubscriptionPricePublic(BaseModel):
    creator_id: str
    coins: int
    version: int = Field(description="Bumped by each change; subscriptions keep their price")


class SubscribeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"creator_id": "creator-1", "coins": 500}]},
    )

    creator_id: Id
    coins: Count = Field(
        gt=0,
        le=CONFIG.max_coins,
        description="The monthly price the caller was shown (GET"
        " /v1/creators/{id}/subscription-price); another price is 409 `price-changed`",
    )


class SubscriptionGiftCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "creator_id": "creator-1",
                    "coins": 500,
                    "recipients": ["viewer-1", "viewer-2"],
                    "stream_id": "stream-1",
                }
            ]
        },
    )

    creator_id: Id
    coins: Count = Field(gt=0, le=CONFIG.max_coins, description="The monthly price shown")
    recipients: list[Id] = Field(
        min_length=1,
        max_length=CONFIG.max_gift_recipients,
        json_schema_extra={"uniqueItems": True},
        description="The viewers who each get one month; each named once",
    )
    stream_id: Id | None = None

    @model_validator(mode="after")
    def _each_once(self) -> "SubscriptionGiftCreate":
        if len(set(self.recipients)) != len(self.recipients):
            raise ValueError("each recipient may be named once")
        return self


class SubscriptionPublic(BaseModel):
    subscription_id: UUID
    fan_id: str
    creator_id: str
    gifted: bool = Field(description="A gifted month: it never renews")
    status: str = Field(description="active | grace (renewal failed, retried) | ended")
    auto_renew: bool = Field(description="false once cancelled (or for a gift)")
    coins: int = Field(description="The price per period it renews at")
    period: int = Field(description="Periods paid")
    period_start: datetime
    period_end: datetime
    grace_until: datetime | None = None
    ended_reason: str | None = None
    entitled: bool = Field(description="The last paid period lasts")
    months: int = Field(description="Months the fan paid this creator in all subscriptions")
    tier: str = Field(description="The badge tier those months give (docs/subscriptions.md)")


class SubscriptionGiftPublic(BaseModel):
    gift_id: UUID
    creator_id: str
    coins: int
    balance_after: int
    subscriptions: list[SubscriptionPublic]


class SubscriberStanding(BaseModel):
    fan_id: str
    creator_id: str
    entitled: bool
    months: int
    tier: str
    subscription_id: UUID | None = None


@router.put(
    "/creators/{creator_id}/subscription-price",
    summary="Set the caller's monthly subscription price",
    responses=problems.problem_responses(
        problems.Unauthorized,
        problems.Forbidden,
        SellerNotEligible,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def put_price(
    creator_id: CreatorId,
    body: SubscriptionPriceCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> SubscriptionPricePublic:
    """A creator prices a month of their own subscription within the platform's bounds (the
    schema states them). Running subscriptions renew at the price they were taken at. A creator
    who could not receive coins may not (403 `seller-not-eligible`)."""
    if caller.user_id != creator_id or not caller.has("creator"):
        raise problems.Forbidden("only the creator sets their subscription price")

    async def work(conn):
        await check_seller(conn, caller, now)
        await accounts.remember_caller(conn, caller)
        version = await store.set_price(conn, creator_id, body.coins)
        return 200, SubscriptionPricePublic(
            creator_id=creator_id, coins=body.coins, version=version
        ).model_dump()

    return await respond_once(
        request, response, caller.user_id, key, body, work, SubscriptionPricePublic
    )


@router.get(
    "/creators/{creator_id}/subscription-price",
    summary="A creator's monthly subscription price",
    responses=problems.problem_responses(SubscriptionNotOffered),
)
async def get_price(creator_id: CreatorId, pool: PoolDep) -> SubscriptionPricePublic:
    """Public. `coins` is the price a subscribe names."""
    async with pool.acquire() as conn:
        row = await store.price(conn, creator_id)
    if row is None:
        raise SubscriptionNotOffered(f"{creator_id} offers no subscription")
    return SubscriptionPricePublic(
        creator_id=creator_id, coins=row["coins"], version=row["version"]
    )


SPEND_REFUSALS = (
    problems.Unauthorized,
    NotEligible,
    Banned,
    SelfSubscription,
    SubscriptionNotOffered,
    RecipientNotFound,
    RecipientNotEligible,
    PriceChanged,
    InsufficientCoins,
    problems.IdempotencyKeyReused,
    problems.MissingIdempotencyKey,
)


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Subscribe to a creator (the first month is debited now)",
    responses=problems.problem_responses(*SPEND_REFUSALS),
)
async def subscribe(
    body: SubscribeCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> SubscriptionPublic:
    """Debits the first month and records `SubscriptionStarted`; it renews from the wallet at
    each period's end until cancelled. A fan who already holds a subscription to the creator
    gets it back (200, charged nothing), whatever the key. Refused like a gift: a spender who
    is not eligible or banned from spending, a creator who cannot earn, a price other than the
    one shown (409 `price-changed`), a short balance."""

    async def work(conn):
        return await store.subscribe(conn, caller, body.creator_id, body.coins, now)

    return await respond_once(
        request, response, caller.user_id, key, body, work, SubscriptionPublic
    )


@router.post(
    "/subscription-gifts",
    status_code=201,
    summary="Gift one-month subscriptions to a creator to several viewers at once",
    responses=problems.problem_responses(*SPEND_REFUSALS, ViewerNotEligible, AlreadySubscribed),
)
async def gift_subscriptions(
    body: SubscriptionGiftCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> SubscriptionGiftPublic:
    """N one-month subscriptions for the N recipients, one debit of N x the price
    (`SubscriptionsGifted`), all or nothing: a recipient unknown to gifting (404), one who may
    not hold a subscription (403 `viewer-not-eligible`), one already subscribed (409
    `already-subscribed`), the payer or the creator among them (403 `self-subscription`), or any
    refusal a subscribe has, and nobody gets anything. Gifted months do not renew."""

    async def work(conn):
        return await store.gift(
            conn, caller, body.creator_id, body.recipients, body.coins, body.stream_id, now
        )

    return await respond_once(
        request, response, caller.user_id, key, body, work, SubscriptionGiftPublic
    )


@router.delete(
    "/subscriptions/{subscription_id}",
    summary="Cancel: no further renewal, no refund",
    responses=problems.problem_responses(problems.Unauthorized, SubscriptionNotFound),
)
async def cancel(
    subscription_id: Annotated[UUID, Path()], caller: CallerDep, now: ClockDep, pool: PoolDep
) -> SubscriptionPublic:
    """The subscription stays entitled until its period ends, then ends
    (`SubscriptionCancelled`, later `SubscriptionLapsed`). Cancelling again changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        out = await store.cancel(conn, caller.user_id, subscription_id, now)
    return SubscriptionPublic.model_validate(out)


@router.get(
    "/subscriptions",
    summary="The caller's subscriptions, ended ones too",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def list_subscriptions(
    caller: CallerDep, now: ClockDep, pool: PoolDep
) -> list[SubscriptionPublic]:
    async with pool.acquire() as conn:
        rows = await store.of_fan(conn, caller.user_id)
    return [SubscriptionPublic.model_validate(store.public(r, now)) for r in rows]


@router.get(
    "/subscriptions/{subscription_id}",
    summary="One subscription (its fan's or its creator's)",
    responses=problems.problem_responses(problems.Unauthorized, SubscriptionNotFound),
)
async def get_subscription(
    subscription_id: Annotated[UUID, Path()], caller: CallerDep, now: ClockDep, pool: PoolDep
) -> SubscriptionPublic:
    async with pool.acquire() as conn:
        row = await store.one(conn, subscription_id)
    if row is None or caller.user_id not in (row["fan_id"], row["creator_id"]):
        raise SubscriptionNotFound(str(subscription_id))
    return SubscriptionPublic.model_validate(store.public(row, now))


@router.get(
    "/creators/{creator_id}/subscribers/{fan_id}",
    summary="A fan's entitlement with a creator: entitled, months, badge tier",
)
async def get_standing(
    creator_id: CreatorId, fan_id: Annotated[Id, Path()], now: ClockDep, pool: PoolDep
) -> SubscriberStanding:
    """Public, as a badge shown beside a fan's name is. A fan who never subscribed: not
    entitled, 0 months, tier `none`."""
    async with pool.acquire() as conn:
        return SubscriberStanding.model_validate(
            await store.standing(conn, fan_id, creator_id, now)
        )
