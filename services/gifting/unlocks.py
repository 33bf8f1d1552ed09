"""Priced items (exclusive content, features) and unlocking them with coins."""

from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import Caller, CallerDep
from eventkit.codec import new_envelope
from eventkit.deps import ClockDep, PoolDep
from eventkit.eventstore import append
from eventkit.fields import Count, Reason
from eventkit.idempotency import IdempotencyKey, respond_once
from policy.eligibility import load_policy
from schemas import topics
from schemas.events.gifting import ContentUnlocked, ItemListed
from schemas.text import Id
from services.gifting import accounts, spending
from services.gifting.catalog import load_catalog
from services.gifting.errors import (
    Banned,
    InsufficientCoins,
    ItemExists,
    ItemNotFound,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    SelfUnlock,
    SellerNotEligible,
)
from services.gifting.rules import Profile, earner_refusal

SOURCE = "/coinstream/gifting"
# How the event contract (ItemListed, ContentUnlocked) and the public view name the owner of a
# platform item. In gifting's tables a platform item is a flag with no owner (migration 003).
PLATFORM = "platform"
router = APIRouter(prefix="/v1", tags=["unlocks"])

ItemId = Annotated[Id, Field(pattern=r"^[A-Za-z0-9._:-]+$", examples=["video-123"])]
# Bounds go on each field's Field(): inside an Annotated after Count's validator, pydantic would
# print them as unknown keys ("gt") and the document would not show them.
MAX_PRICE = 1_000_000


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: ItemId
    title: Annotated[Reason, Field(min_length=1, max_length=200)]  # no NUL, not blank
    coins: Count = Field(gt=0, le=MAX_PRICE)
    platform: bool = Field(
        default=False, strict=True, description="List as a platform item (admin only)"
    )


class ItemPublic(BaseModel):
    item_id: str
    owner_id: str = Field(description="The creator who owns the item, or 'platform'")
    platform: bool = Field(description="A platform item: no creator earns from its unlocks")
    title: str
    coins: int
    version: int


class UnlockCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"item_id": "video-123", "coins": 300}]}
    )

    item_id: Id
    coins: Count = Field(
        gt=0,
        le=MAX_PRICE,
        description="The price the caller was shown (GET /v1/items/{item_id})."
        " A different current price is refused with 409"
        " `price-changed` and nothing is charged.",
    )


class UnlockPublic(BaseModel):
    unlock_id: UUID
    item_id: str
    coins: int
    balance_after: int = Field(description="Wallet balance right after this unlock")
    unlocked_at: datetime
    already_unlocked: bool = False


def _public_owner(owner_id: str | None) -> str:
    return PLATFORM if owner_id is None else owner_id


async def check_seller(conn, caller: Caller, now: datetime) -> None:
    """A creator may list items only when they could receive what the items earn: the same
    rules as a gift's recipient (age, region, account type) and no ban from receiving."""
    why = earner_refusal(
        load_policy(), Profile(caller.country, caller.birthdate, caller.account_type), now
    )
    if why:
        raise SellerNotEligible(f"cannot sell: {why}")
    if await accounts.banned(conn, caller.user_id, "receive"):
        raise SellerNotEligible("this account is banned from receiving coins")


@router.put(
    "/items",
    status_code=201,
    summary="List or re-price an unlockable item",
    responses=problems.problem_responses(
        problems.Unauthorized,
        problems.Forbidden,
        SellerNotEligible,
        ItemExists,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def put_item(
    body: ItemCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> ItemPublic:
    """Creators list their own items; admins list platform items. Re-listing bumps the version;
    unlocks already made keep the price they paid. A retry with the same Idempotency-Key
    replays the first answer and bumps nothing. A creator who could not receive coins (under
    age, a country not served, an ineligible account type, banned from receiving) may not list
    (403 `seller-not-eligible`)."""
    if body.platform and not caller.has("admin"):
        raise problems.Forbidden("only admins list platform items")
    if not body.platform and not (caller.has("creator") or caller.has("admin")):
        raise problems.Forbidden("only creators list items")
    owner = None if body.platform else caller.user_id

    async def work(conn):
        if owner is not None:
            await check_seller(conn, caller, now)
            # Unlocks judge the owner on this profile, as gifts judge their recipient.
            await accounts.remember_caller(conn, caller)
        row = await conn.fetchrow(
            "INSERT INTO items AS i (item_id, owner_id, platform, title, coins)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (item_id) DO UPDATE SET title = $4,"
            " coins = $5, version = i.version + 1"
            " WHERE i.platform = $3 AND i.owner_id IS NOT DISTINCT FROM $2 RETURNING version",
            body.item_id,
            owner,
            body.platform,
            body.title,
            body.coins,
        )
        if row is None:
            raise ItemExists(f"{body.item_id} belongs to another owner")
        public_owner = _public_owner(owner)
        await append(
            conn,
            topics.GIFTING_EVENTS,
            new_envelope(
                SOURCE,
                ItemListed(
                    item_id=body.item_id,
                    owner_id=public_owner,
                    title=body.title,
                    coins=body.coins,
                    item_version=row["version"],
                ),
                aggregate_id=f"item-{body.item_id}",
                aggregate_version=row["version"],
                subject=public_owner,
            ),
        )
        return 201, ItemPublic(
            item_id=body.item_id,
            owner_id=public_owner,
            platform=body.platform,
            title=body.title,
            coins=body.coins,
            version=row["version"],
        ).model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, ItemPublic)


@router.get(
    "/items/{item_id}",
    summary="An unlockable item and its price",
    responses=problems.problem_responses(ItemNotFound),
)
async def get_item(item_id: Annotated[Id, Path()], pool: PoolDep) -> ItemPublic:
    """Public. `coins` is the price an unlock names to be charged it."""
    row = await pool.fetchrow(
        "SELECT item_id, owner_id, platform, title, coins, version FROM items WHERE item_id = $1",
        item_id,
    )
    if row is None:
        raise ItemNotFound(item_id)
    return ItemPublic(**{**row, "owner_id": _public_owner(row["owner_id"])})


# The item, and what the unlock must know of its owner (profile, ban from receiving), in the
# one read the unlock already makes. A platform item has no owner: nothing to join or ban.
_ITEM = f"""
SELECT i.owner_id, i.coins, p.user_id IS NOT NULL AS owner_known,
       p.country, p.birthdate, p.account_type,
       {accounts.banned_sql("i.owner_id", "'receive'")} AS owner_banned
FROM items i LEFT JOIN profiles p ON p.user_id = i.owner_id
WHERE i.item_id = $1
"""


def owner_refusal(item, now: datetime) -> str | None:
    """Why the item's owner may not earn from an unlock (the rules of a gift's recipient)."""
    if item["owner_id"] is None:
        return None
    if not item["owner_known"]:
        return "the item's owner is unknown to gifting (no account profile yet)"
    why = earner_refusal(
        load_policy(), Profile(item["country"], item["birthdate"], item["account_type"]), now
    )
    if why:
        return f"the item's owner cannot earn: {why}"
    if item["owner_banned"]:
        return "the item's owner is banned from receiving coins"
    return None


@router.post(
    "/unlocks",
    status_code=201,
    summary="Unlock an item with coins",
    responses=problems.problem_responses(
        problems.Unauthorized,
        NotEligible,
        Banned,
        ItemNotFound,
        RecipientNotEligible,
        SelfUnlock,
        InsufficientCoins,
        PriceChanged,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def unlock(
    body: UnlockCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> UnlockPublic:
    """Debits the item's price once and records `ContentUnlocked`. Unlocking an item the caller
    already unlocked charges nothing and answers 200 with the original unlock, whatever the
    Idempotency-Key. Refused (and nothing recorded) like a gift: a spender who is not eligible
    or is banned from gifting; the item's own owner (403 `self-unlock`); an owner who could not
    receive a gift (under age, a country not served, an ineligible account type, banned from
    receiving: 403 `recipient-not-eligible`; platform items have no owner to check); a price
    other than the `coins` the caller names (409 `price-changed`); a short balance."""
    catalog = load_catalog()

    async def work(conn):
        await accounts.remember_caller(conn, caller)
        item = await conn.fetchrow(_ITEM, body.item_id)
        if item is None:
            raise ItemNotFound(body.item_id)
        if item["owner_id"] == caller.user_id:
            raise SelfUnlock("the item's owner cannot unlock it")
        unlock_id, event_id = uuid4(), uuid4()
        # The unique (user, item) row is claimed first: a concurrent unlock of the same item
        # waits here and then finds it taken, so it can never charge a second time.
        claimed = await conn.fetchval(
            "INSERT INTO unlocks (user_id, item_id, unlock_id, event_id, coins, balance_after)"
            " VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING RETURNING true",
            caller.user_id,
            body.item_id,
            unlock_id,
            event_id,
            item["coins"],
        )
        if not claimed:
            prior = await conn.fetchrow(
                "SELECT unlock_id, coins, balance_after, created_at FROM unlocks"
                " WHERE user_id = $1 AND item_id = $2",
                caller.user_id,
                body.item_id,
            )
            return 200, UnlockPublic(
                unlock_id=prior["unlock_id"],
                item_id=body.item_id,
                coins=prior["coins"],
                balance_after=prior["balance_after"],
                unlocked_at=prior["created_at"],
                already_unlocked=True,
            ).model_dump(mode="json")
        await spending.check_spender(conn, caller, now)
        if item["coins"] != body.coins:
            raise PriceChanged(
                f"{body.item_id} now costs {item['coins']} coins, not {body.coins}",
                coins=item["coins"],
            )
        why = owner_refusal(item, now)
        if why:
            raise RecipientNotEligible(why)
        balance_after, version = await spending.debit(conn, caller.user_id, item["coins"])
        event = new_envelope(
            SOURCE,
            ContentUnlocked(
                unlock_id=str(unlock_id),
                user_id=caller.user_id,
                item_id=body.item_id,
                owner_id=_public_owner(item["owner_id"]),
                coins=item["coins"],
                diamonds_per_coin=catalog.diamonds_per_coin,
                commission_rate=catalog.commission_rate,
                rates_version=catalog.rates_version,
                catalog_version=catalog.version,
                balance_after=balance_after,
            ),
            aggregate_id=f"wallet-{caller.user_id}",
            aggregate_version=version,
            subject=body.item_id,
            event_id=event_id,
        )
        created = await conn.fetchval(
            "UPDATE unlocks SET balance_after = $3 WHERE user_id = $1 AND item_id = $2"
            " RETURNING created_at",
            caller.user_id,
            body.item_id,
            balance_after,
        )
        await spending.record(conn, caller.user_id, "unlock", item["coins"], balance_after, event)
        return 201, UnlockPublic(
            unlock_id=unlock_id,
            item_id=body.item_id,
            coins=item["coins"],
            balance_after=balance_after,
            unlocked_at=created,
        ).model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, UnlockPublic)


@router.get(
    "/unlocks",
    summary="What the caller has unlocked",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def list_unlocks(caller: CallerDep, pool: PoolDep) -> list[UnlockPublic]:
    rows = await pool.fetch(
        "SELECT unlock_id, item_id, coins, balance_after, created_at FROM unlocks"
        " WHERE user_id = $1 ORDER BY created_at",
        caller.user_id,
    )
    return [
        UnlockPublic(
            unlock_id=r["unlock_id"],
            item_id=r["item_id"],
            coins=r["coins"],
            balance_after=r["balance_after"],
            unlocked_at=r["created_at"],
        )
        for r in rows
    ]
