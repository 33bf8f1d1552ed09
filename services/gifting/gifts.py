"""Sending gifts to creators, live or on a video or comment."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas.events.gifting import GiftContext, GiftSent
from schemas.money import Country
from services.gifting import accounts, spending
from services.gifting.catalog import GiftUnavailable, load_catalog
from services.gifting.errors import (
    Banned,
    GiftNotFound,
    InsufficientCoins,
    NotEligible,
    RecipientNotEligible,
    SelfGift,
)
from services.gifting.rules import Combo, next_combo, recipient_refusal
from services.rules.eligibility import load_policy

SOURCE = "/coinstream/gifting"
router = APIRouter(prefix="/v1", tags=["gifts"])


class GiftOffer(BaseModel):
    gift_code: str
    name: str
    coins: int


class GiftCatalogPublic(BaseModel):
    version: int
    country: str
    gifts: list[GiftOffer]


class GiftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"creator_id": "creator-1", "context": {"kind": "live", "id": "stream-1"},
         "gift_code": "rose", "quantity": 10}]})

    creator_id: str = Field(min_length=1, max_length=128)
    context: GiftContext
    gift_code: str = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=999, description="Batch send: N of the same gift")


class GiftPublic(BaseModel):
    gift_id: UUID
    event_id: UUID
    coins: int
    combo_id: UUID
    combo_count: int
    balance_after: int


@router.get("/gifts/catalog", summary="Gifts available in a country, with their coin prices")
async def gift_catalog(country: Country = Query(examples=["US"])) -> GiftCatalogPublic:
    catalog = load_catalog()
    return GiftCatalogPublic(version=catalog.version, country=country, gifts=[
        GiftOffer(gift_code=code, name=g["name"], coins=g["coins"])
        for code, g in catalog.available_in(country).items()])


async def _combo(conn: asyncpg.Connection, sender: str, body: GiftCreate, window: float) -> Combo:
    """Runs under the sender's wallet row lock (taken by the debit), so read-then-write is safe."""
    key = (sender, body.creator_id, body.context.kind, body.context.id, body.gift_code)
    row = await conn.fetchrow(
        "SELECT combo_id, count, last_at FROM combos WHERE sender_id = $1 AND creator_id = $2"
        " AND context_kind = $3 AND context_id = $4 AND gift_code = $5", *key)
    previous = Combo(row["combo_id"], row["count"], row["last_at"]) if row else None
    combo = next_combo(previous, datetime.now(UTC), timedelta(seconds=window),
                       body.quantity)
    await conn.execute(
        "INSERT INTO combos (sender_id, creator_id, context_kind, context_id, gift_code,"
        " combo_id, count, last_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (sender_id, creator_id, context_kind, context_id, gift_code) DO UPDATE"
        " SET combo_id = EXCLUDED.combo_id, count = EXCLUDED.count, last_at = EXCLUDED.last_at",
        *key, combo.combo_id, combo.count, combo.last_at)
    return combo


@router.post("/gifts", status_code=201, summary="Send a gift to a creator",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, Banned, GiftNotFound, InsufficientCoins,
                 SelfGift, RecipientNotEligible, problems.IdempotencyKeyReused,
                 problems.MissingIdempotencyKey))
async def send_gift(body: GiftCreate, caller: CallerDep, key: IdempotencyKey, request: Request,
                    response: Response) -> GiftPublic:
    """Debits quantity x the gift's price from the caller's wallet and records `GiftSent`.

    Refused (and nothing recorded) when the sender is under age, outside an enabled country or
    banned from gifting; when the recipient is unknown, under age, banned from receiving or an
    ineligible account type; when the gift is not sold in the sender's region; and with 409 when
    the balance is short, decided inside PostgreSQL. Gifts of the same kind to the same creator
    and context within the combo window share a combo id and a running count."""
    if body.creator_id == caller.user_id:
        raise SelfGift()
    catalog = load_catalog()
    try:
        price = catalog.price(body.gift_code, body.quantity, caller.country)
    except GiftUnavailable as exc:
        raise GiftNotFound(str(exc)) from None

    async def work(conn):
        await accounts.remember_caller(conn, caller)
        await spending.check_spender(conn, caller)
        why = recipient_refusal(load_policy(), await accounts.profile(conn, body.creator_id),
                                date.today())
        if why:
            raise RecipientNotEligible(why)
        if await accounts.banned(conn, body.creator_id, "receive"):
            raise RecipientNotEligible("recipient is banned from receiving gifts")
        balance_after, version = await spending.debit(conn, caller.user_id, price.coins)
        combo = await _combo(conn, caller.user_id, body, catalog.combo_window_seconds)
        gift_id = uuid4()
        event = new_envelope(SOURCE, GiftSent(
            gift_id=str(gift_id), sender_id=caller.user_id, creator_id=body.creator_id,
            context=body.context, gift_code=price.gift_code, quantity=price.quantity,
            unit_price=price.unit_price, coins=price.coins,
            diamonds_per_coin=catalog.diamonds_per_coin, commission_rate=catalog.commission_rate,
            rates_version=catalog.rates_version, catalog_version=catalog.version,
            combo_id=str(combo.combo_id), combo_count=combo.count, balance_after=balance_after),
            aggregate_id=f"wallet-{caller.user_id}", aggregate_version=version,
            subject=body.creator_id)
        await spending.record(conn, caller.user_id, "gift", price.coins, balance_after, event)
        return 201, GiftPublic(gift_id=gift_id, event_id=event.id, coins=price.coins,
                               combo_id=combo.combo_id, combo_count=combo.count,
                               balance_after=balance_after).model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, GiftPublic)
