"""Sending gifts to creators, live or on a video or comment."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventkit import problems
from eventkit.auth import CallerDep, UserId
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count
from eventkit.idempotency import IdempotencyKey, fingerprint
from policy.coin_value import VALUE_DESCRIPTION, load_coin_prices
from policy.countries import CountryNotServed, ServedCountry, served
from schemas.events.gifting import GiftContext, Recipient
from schemas.money import Money
from schemas.text import Id
from services.gifting import fan_levels_store, gift_batch, spend_batch
from services.gifting.catalog import GiftUnavailable, load_catalog
from services.gifting.errors import (
    Banned,
    GiftNotFound,
    InsufficientCoins,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    RecipientNotFound,
    SelfGift,
)
from services.gifting.gift_decide import GiftCommand
from services.gifting.limits_errors import REFUSALS as LIMIT_REFUSALS
from services.gifting.live_events_errors import FanLevelTooLow
from services.gifting.rooms_errors import RoomNotFound, SenderIsRecipient

router = APIRouter(prefix="/v1", tags=["gifts"])


class GiftOffer(BaseModel):
    gift_code: str
    name: str
    coins: int
    value: Money = Field(description=VALUE_DESCRIPTION)
    min_fan_level: int = Field(
        default=0, description="The fan level with the creator needed to send it (0: anyone)"
    )


class GiftCatalogPublic(BaseModel):
    version: int
    country: str
    gifts: list[GiftOffer]


# The bound comes before Count's validator: after it, pydantic prints the bound of an optional
# field as an unknown key ("ge") that no client or generator reads (cf. fields.query_int).
CatalogVersion = Annotated[int, Field(ge=1), *Count.__metadata__]


class GiftCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "creator_id": "creator-1",
                    "context": {"kind": "live", "id": "stream-1"},
                    "gift_code": "rose",
                    "quantity": 10,
                    "catalog_version": 2,
                },
                {
                    "room_id": "room-1",
                    "context": {"kind": "live", "id": "stream-1"},
                    "gift_code": "galaxy",
                    "catalog_version": 2,
                },
            ],
            # What _one_target checks, said in the document: one of the two, not both.
            "oneOf": [
                {
                    "required": ["creator_id"],
                    "properties": {"creator_id": {"type": "string"}, "room_id": {"type": "null"}},
                },
                {
                    "required": ["room_id"],
                    "properties": {"room_id": {"type": "string"}, "creator_id": {"type": "null"}},
                },
            ],
        },
    )

    creator_id: UserId | None = Field(
        default=None, description="The creator the gift is for; or name `room_id` instead"
    )
    room_id: Id | None = Field(
        default=None,
        description="A multi-guest room (PUT /v1/rooms/{room_id}): the gift is split between "
        "its recipients with the shares in force, recorded on the GiftSent v2",
    )
    context: GiftContext
    gift_code: Annotated[Id, Field(max_length=64)]
    quantity: Count = Field(default=1, ge=1, le=999, description="Batch send: N of the same gift")
    # Optional, unlike an unlock's price: adding a required field would break every client, and
    # gift prices change only with a new catalog version (a deploy), never at the whim of the
    # payee as an item's price can. Clients should send it; every client in this repo does.
    catalog_version: CatalogVersion | None = Field(
        default=None,
        description="The `version` of the gift catalog (GET /v1/gifts/catalog) the sender was "
        "shown. When given and no longer current, the gift is refused with 409 "
        "`price-changed` and nothing is charged. Recommended.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> "GiftCreate":
        if (self.creator_id is None) == (self.room_id is None):
            raise ValueError("name exactly one of creator_id and room_id")
        return self


class GiftPublic(BaseModel):
    gift_id: UUID
    event_id: UUID
    coins: int
    value: Money = Field(description=VALUE_DESCRIPTION)
    combo_id: UUID
    combo_count: int
    balance_after: int
    recipients: list[Recipient] = Field(
        default=[], description="Host first, with the shares in force"
    )
    room_id: str | None = None


@router.get(
    "/gifts/catalog",
    summary="Gifts available in a country, with their coin prices",
    responses=problems.problem_responses(CountryNotServed),
)
async def gift_catalog(
    country: Annotated[ServedCountry, Query(examples=["US"])],
) -> GiftCatalogPublic:
    """Public. `version` is what a gift names as `catalog_version` to be charged these prices.
    A country code is upper-case ISO 3166 alpha-2 and must be one Coinstream serves (the enum;
    any other code is 422 `country-not-served`)."""
    country, catalog = served(country), load_catalog()
    per_coin = load_coin_prices().for_country(country)
    return GiftCatalogPublic(
        version=catalog.version,
        country=country,
        gifts=[
            GiftOffer(
                gift_code=code,
                name=g["name"],
                coins=g["coins"],
                value=per_coin.of(g["coins"]),
                min_fan_level=g.get("min_fan_level", 0),
            )
            for code, g in catalog.available_in(country).items()
        ],
    )


@router.post(
    "/gifts",
    status_code=201,
    response_model=GiftPublic,
    summary="Send a gift to a creator",
    responses=problems.problem_responses(
        problems.Unauthorized,
        NotEligible,
        Banned,
        GiftNotFound,
        InsufficientCoins,
        PriceChanged,
        SelfGift,
        RecipientNotFound,
        RecipientNotEligible,
        *LIMIT_REFUSALS,
        RoomNotFound,
        SenderIsRecipient,
        FanLevelTooLow,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def send_gift(
    body: GiftCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    pool: PoolDep,
    request: Request,
) -> Response:
    """Debits quantity x the gift's price from the caller's wallet and records `GiftSent`.

    Refused (and nothing recorded) when the sender is under age, outside an enabled country or
    banned from gifting; when the recipient is unknown, under age, banned from receiving or an
    ineligible account type; when the gift is not sold in the sender's region; and with 409 when
    the balance is short (against the wallet row locked in PostgreSQL), or when
    `catalog_version` names a catalog no longer in force. A gift with a `min_fan_level` (the
    catalog) needs that fan level with the creator (a room's host): below it, 403
    `fan-level-too-low` naming the level needed. Gifts of the same kind to the same
    creator and context within the combo window share a combo id and a running count.

    A gift naming `room_id` instead of `creator_id` is for the room's recipients with the
    shares in force (PUT /v1/rooms/{room_id}): the sender is debited once, each recipient
    earns their share, and if any one of them may not receive the whole gift is refused (422
    `sender-is-recipient` when the sender is one of them).

    Concurrent gifts are committed together (gift_batch): each still gets its own answer."""
    if body.creator_id == caller.user_id:
        raise SelfGift()
    catalog = load_catalog()
    try:
        price = catalog.price(body.gift_code, body.quantity, caller.country)
    except GiftUnavailable as exc:
        raise GiftNotFound(str(exc)) from None
    await fan_levels_store.gate(
        pool, caller.user_id, body.creator_id, body.room_id, body.gift_code, now
    )
    outcome = await request.app.state.gifts.submit(
        GiftCommand(
            caller,
            key,
            fingerprint(request, body),
            body.creator_id,
            body.context.kind,
            body.context.id,
            price,
            body.catalog_version,
            now,
            body.room_id,
        )
    )
    return spend_batch.respond(outcome)  # the body: gift_batch.gift_record's, or stored


async def start_batching(app: FastAPI) -> None:
    app.state.gifts = gift_batch.batcher(app.state.pool)
    app.state.gifts.start()


async def stop_batching(app: FastAPI) -> None:
    await app.state.gifts.stop()
