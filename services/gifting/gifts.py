"""Sending gifts to creators, live or on a video or comment."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep, UserId
from eventkit.codec import new_envelope
from eventkit.idempotency import CLAIM, IdempotencyKey, respond_once
from schemas.events.gifting import GiftContext, GiftSent
from schemas.money import Country
from schemas.text import Id
from services.gifting import accounts, spending
from services.gifting.catalog import GiftUnavailable, load_catalog
from services.gifting.errors import (
    Banned,
    GiftNotFound,
    InsufficientCoins,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    SelfGift,
)
from services.gifting.rules import Combo, Profile, recipient_refusal
from services.rules.countries import CountryNotServed, served
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
         "gift_code": "rose", "quantity": 10, "catalog_version": 2}]})

    creator_id: UserId
    context: GiftContext
    gift_code: Annotated[Id, Field(max_length=64)]
    quantity: int = Field(default=1, ge=1, le=999, strict=True,
                          description="Batch send: N of the same gift")
    # Optional, unlike an unlock's price: adding a required field would break every client, and
    # gift prices change only with a new catalog version (a deploy), never at the whim of the
    # payee as an item's price can. Clients should send it; every client in this repo does.
    catalog_version: int | None = Field(
        default=None, ge=1, strict=True,
        description="The `version` of the gift catalog (GET /v1/gifts/catalog) the sender was "
                    "shown. When given and no longer current, the gift is refused with 409 "
                    "`price-changed` and nothing is charged. Recommended.")


class GiftPublic(BaseModel):
    gift_id: UUID
    event_id: UUID
    coins: int
    combo_id: UUID
    combo_count: int
    balance_after: int


@router.get("/gifts/catalog", summary="Gifts available in a country, with their coin prices",
            responses=problems.problem_responses(CountryNotServed))
async def gift_catalog(country: Annotated[Country, Query(examples=["US"])]) -> GiftCatalogPublic:
    """Public. `version` is what a gift names as `catalog_version` to be charged these prices.
    A country code is upper-case ISO 3166 alpha-2 and must be one Coinstream serves (422)."""
    country, catalog = served(country), load_catalog()
    return GiftCatalogPublic(version=catalog.version, country=country, gifts=[
        GiftOffer(gift_code=code, name=g["name"], coins=g["coins"])
        for code, g in catalog.available_in(country).items()])


# Everything a gift reads or changes before its event exists, in one round trip (it was eight):
# claim the Idempotency-Key, remember the caller's profile, read the bans and the recipient's
# profile, debit the wallet when the balance covers the price, continue or start the combo.
# Every write depends on the claim, so a replayed key changes nothing; a refusal decided in
# Python afterwards (bans, eligibility, short balance) rolls the whole transaction back.
# $1-$3 are the claim's (idempotency.CLAIM).
_SEND = f"""
WITH claim AS ({CLAIM}),
caller AS (
    INSERT INTO profiles AS p (user_id, country, birthdate, account_type)
    SELECT $1, $4::text, $5::date, $6::text FROM claim
    ON CONFLICT (user_id) DO UPDATE SET country = $4, birthdate = $5, account_type = $6,
        updated_at = now()
    WHERE (p.country, p.birthdate, p.account_type) IS DISTINCT FROM ($4, $5, $6)
    RETURNING 1),
-- The debit reads `caller` so that it runs first: every spend locks the caller's profile row,
-- then the wallet row (an unreferenced CTE would run last and could deadlock with an unlock).
debit AS (
    UPDATE wallets SET balance = balance - $8, version = version + 1, updated_at = now()
    WHERE user_id = $1 AND balance >= $8 AND EXISTS (SELECT FROM claim)
      AND (SELECT count(*) FROM caller) >= 0
    RETURNING balance, version),
-- The combo: the same gift again within the window ($15) of the last one continues it (the
-- count grows by the quantity), else a new one starts. ON CONFLICT DO UPDATE locks the combo row
-- and works on its latest version, so two gifts racing on one combo both count (a
-- read-then-write here would not: the read would use the statement's snapshot, taken before the
-- wallet lock was granted).
combo AS (
    INSERT INTO combos AS c (sender_id, creator_id, context_kind, context_id, gift_code,
                             combo_id, count, last_at)
    SELECT $1, $7, $9::text, $10::text, $11::text, $12::uuid, $13::integer, $14::timestamptz
    FROM debit
    ON CONFLICT (sender_id, creator_id, context_kind, context_id, gift_code) DO UPDATE SET
        combo_id = CASE WHEN EXCLUDED.last_at - c.last_at <= $15 THEN c.combo_id
                        ELSE EXCLUDED.combo_id END,
        count = CASE WHEN EXCLUDED.last_at - c.last_at <= $15 THEN c.count + EXCLUDED.count
                     ELSE EXCLUDED.count END,
        last_at = EXCLUDED.last_at
    RETURNING combo_id, count)
SELECT EXISTS (SELECT FROM claim) AS fresh,
       {accounts.banned_sql("$1", "'gift'")} AS sender_banned,
       {accounts.banned_sql("$7", "'receive'")} AS recipient_banned,
       recipient.known, recipient.country, recipient.birthdate, recipient.account_type,
       debit.balance, debit.version, combo.combo_id, combo.count
FROM (SELECT) one
LEFT JOIN (SELECT true AS known, country, birthdate, account_type FROM profiles
           WHERE user_id = $7) recipient ON true
LEFT JOIN debit ON true LEFT JOIN combo ON true
"""


@router.post("/gifts", status_code=201, summary="Send a gift to a creator",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, Banned, GiftNotFound, InsufficientCoins,
                 PriceChanged, SelfGift, RecipientNotEligible, problems.IdempotencyKeyReused,
                 problems.MissingIdempotencyKey))
async def send_gift(body: GiftCreate, caller: CallerDep, key: IdempotencyKey, request: Request,
                    response: Response) -> GiftPublic:
    """Debits quantity x the gift's price from the caller's wallet and records `GiftSent`.

    Refused (and nothing recorded) when the sender is under age, outside an enabled country or
    banned from gifting; when the recipient is unknown, under age, banned from receiving or an
    ineligible account type; when the gift is not sold in the sender's region; and with 409 when
    the balance is short, decided inside PostgreSQL, or when `catalog_version` names a catalog
    no longer in force. Gifts of the same kind to the same creator
    and context within the combo window share a combo id and a running count."""
    if body.creator_id == caller.user_id:
        raise SelfGift()
    catalog = load_catalog()
    try:
        price = catalog.price(body.gift_code, body.quantity, caller.country)
    except GiftUnavailable as exc:
        raise GiftNotFound(str(exc)) from None

    async def work(conn, claim):
        now = spending.clock(request)
        row = await conn.fetchrow(
            _SEND, *claim.args, caller.country, caller.birthdate, caller.account_type,
            body.creator_id, price.coins, body.context.kind, body.context.id, body.gift_code,
            uuid4(), body.quantity, now, timedelta(seconds=catalog.combo_window_seconds))
        if not row["fresh"]:
            return None  # replayed by respond_once
        # The refusals, in the order they have always been checked.
        spending.check_eligible(caller, now)
        if row["sender_banned"]:
            raise spending.spending_banned()
        if body.catalog_version not in (None, catalog.version):
            raise PriceChanged(f"catalog version {body.catalog_version} is no longer in force",
                               catalog_version=catalog.version)
        recipient = Profile(row["country"], row["birthdate"], row["account_type"]) \
            if row["known"] else None
        why = recipient_refusal(load_policy(), recipient, now)
        if why:
            raise RecipientNotEligible(why)
        if row["recipient_banned"]:
            raise RecipientNotEligible("recipient is banned from receiving gifts")
        if row["balance"] is None:
            raise await spending.insufficient(conn, caller.user_id, price.coins)
        balance_after, version = row["balance"], row["version"]
        combo = Combo(row["combo_id"], row["count"], now)
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
        out = GiftPublic(gift_id=gift_id, event_id=event.id, coins=price.coins,
                         combo_id=combo.combo_id, combo_count=combo.count,
                         balance_after=balance_after).model_dump(mode="json")
        await spending.record(conn, caller.user_id, "gift", price.coins, balance_after, event,
                              claim.save(201, out))
        return 201, out

    return await respond_once(request, response, caller.user_id, key, body, work, GiftPublic,
                              folded=True)
