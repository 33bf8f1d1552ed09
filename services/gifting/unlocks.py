"""Priced items (exclusive content, features) and unlocking them with coins."""

from datetime import datetime
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.eventstore import append
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas import topics
from schemas.events.gifting import ContentUnlocked, ItemListed
from services.gifting import accounts, spending
from services.gifting.catalog import load_catalog
from services.gifting.errors import (
    Banned,
    InsufficientCoins,
    ItemExists,
    ItemNotFound,
    NotEligible,
    RecipientNotEligible,
)

SOURCE = "/coinstream/gifting"
PLATFORM = "platform"
router = APIRouter(prefix="/v1", tags=["unlocks"])


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
                         examples=["video-123"])
    title: str = Field(min_length=1, max_length=200)
    coins: int = Field(gt=0, le=1_000_000)
    platform: bool = Field(default=False, description="List as a platform item (admin only)")


class ItemPublic(BaseModel):
    item_id: str
    owner_id: str
    title: str
    coins: int
    version: int


class UnlockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=128)


class UnlockPublic(BaseModel):
    unlock_id: UUID
    item_id: str
    coins: int
    balance_after: int = Field(description="Wallet balance right after this unlock")
    unlocked_at: datetime
    already_unlocked: bool = False


@router.put("/items", status_code=201, summary="List or re-price an unlockable item",
            responses=problems.problem_responses(
                problems.Unauthorized, problems.Forbidden, ItemExists,
                problems.IdempotencyKeyReused, problems.MissingIdempotencyKey))
async def put_item(body: ItemCreate, caller: CallerDep, key: IdempotencyKey, request: Request,
                   response: Response) -> ItemPublic:
    """Creators list their own items; admins list platform items. Re-listing bumps the version;
    unlocks already made keep the price they paid. A retry with the same Idempotency-Key
    replays the first answer and bumps nothing."""
    if body.platform and not caller.has("admin"):
        raise problems.Forbidden("only admins list platform items")
    if not body.platform and not (caller.has("creator") or caller.has("admin")):
        raise problems.Forbidden("only creators list items")
    owner = PLATFORM if body.platform else caller.user_id

    async def work(conn):
        row = await conn.fetchrow(
            "INSERT INTO items AS i (item_id, owner_id, title, coins) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (item_id) DO UPDATE SET title = $3, coins = $4, version = i.version + 1"
            " WHERE i.owner_id = $2 RETURNING version", body.item_id, owner, body.title,
            body.coins)
        if row is None:
            raise ItemExists(f"{body.item_id} belongs to another owner")
        await append(conn, topics.GIFTING_EVENTS, new_envelope(SOURCE, ItemListed(
            item_id=body.item_id, owner_id=owner, title=body.title, coins=body.coins,
            item_version=row["version"]), aggregate_id=f"item-{body.item_id}",
            aggregate_version=row["version"], subject=owner))
        return 201, ItemPublic(item_id=body.item_id, owner_id=owner, title=body.title,
                               coins=body.coins, version=row["version"]).model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, ItemPublic)


@router.get("/items/{item_id}", summary="An unlockable item and its price",
            responses=problems.problem_responses(ItemNotFound))
async def get_item(item_id: str, request: Request) -> ItemPublic:
    row = await request.app.state.pool.fetchrow(
        "SELECT item_id, owner_id, title, coins, version FROM items WHERE item_id = $1", item_id)
    if row is None:
        raise ItemNotFound(item_id)
    return ItemPublic(**row)


# The item and whether its owner may receive coins, in the one read the unlock already makes.
_OWNER_BANNED = accounts.banned_sql("items.owner_id", "'receive'")
_ITEM = (f"SELECT owner_id, coins, owner_id <> '{PLATFORM}' AND {_OWNER_BANNED} AS owner_banned"
         " FROM items WHERE item_id = $1")


@router.post("/unlocks", status_code=201, summary="Unlock an item with coins",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, Banned, ItemNotFound, RecipientNotEligible,
                 InsufficientCoins, problems.IdempotencyKeyReused,
                 problems.MissingIdempotencyKey))
async def unlock(body: UnlockCreate, caller: CallerDep, key: IdempotencyKey, request: Request,
                 response: Response) -> UnlockPublic:
    """Debits the item's price once and records `ContentUnlocked`. Unlocking an item the caller
    already unlocked charges nothing and answers 200 with the original unlock, whatever the
    Idempotency-Key. Refused (and nothing recorded) like a gift: a spender who is not eligible
    or is banned from gifting, an item whose owner is banned from receiving (platform items
    have no owner to ban), a short balance."""
    catalog = load_catalog()

    async def work(conn):
        await accounts.remember_caller(conn, caller)
        item = await conn.fetchrow(_ITEM, body.item_id)
        if item is None:
            raise ItemNotFound(body.item_id)
        unlock_id, event_id = uuid4(), uuid4()
        # The unique (user, item) row is claimed first: a concurrent unlock of the same item
        # waits here and then finds it taken, so it can never charge a second time.
        claimed = await conn.fetchval(
            "INSERT INTO unlocks (user_id, item_id, unlock_id, event_id, coins, balance_after)"
            " VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING RETURNING true",
            caller.user_id, body.item_id, unlock_id, event_id, item["coins"])
        if not claimed:
            prior = await conn.fetchrow(
                "SELECT unlock_id, coins, balance_after, created_at FROM unlocks"
                " WHERE user_id = $1 AND item_id = $2", caller.user_id, body.item_id)
            return 200, UnlockPublic(
                unlock_id=prior["unlock_id"], item_id=body.item_id, coins=prior["coins"],
                balance_after=prior["balance_after"], unlocked_at=prior["created_at"],
                already_unlocked=True).model_dump(mode="json")
        await spending.check_spender(conn, caller)
        if item["owner_banned"]:
            raise RecipientNotEligible("the item's owner is banned from receiving coins")
        balance_after, version = await spending.debit(conn, caller.user_id, item["coins"])
        event = new_envelope(SOURCE, ContentUnlocked(
            unlock_id=str(unlock_id), user_id=caller.user_id, item_id=body.item_id,
            owner_id=item["owner_id"], coins=item["coins"],
            diamonds_per_coin=catalog.diamonds_per_coin, commission_rate=catalog.commission_rate,
            rates_version=catalog.rates_version, catalog_version=catalog.version,
            balance_after=balance_after), aggregate_id=f"wallet-{caller.user_id}",
            aggregate_version=version, subject=body.item_id, event_id=event_id)
        created = await conn.fetchval(
            "UPDATE unlocks SET balance_after = $3 WHERE user_id = $1 AND item_id = $2"
            " RETURNING created_at", caller.user_id, body.item_id, balance_after)
        await spending.record(conn, caller.user_id, "unlock", item["coins"], balance_after, event)
        return 201, UnlockPublic(unlock_id=unlock_id, item_id=body.item_id, coins=item["coins"],
                                 balance_after=balance_after,
                                 unlocked_at=created).model_dump(mode="json")

    return await respond_once(request, response, caller.user_id, key, body, work, UnlockPublic)


@router.get("/unlocks", summary="What the caller has unlocked")
async def list_unlocks(caller: CallerDep, request: Request) -> list[UnlockPublic]:
    rows = await request.app.state.pool.fetch(
        "SELECT unlock_id, item_id, coins, balance_after, created_at FROM unlocks"
        " WHERE user_id = $1 ORDER BY created_at", caller.user_id)
    return [UnlockPublic(unlock_id=r["unlock_id"], item_id=r["item_id"], coins=r["coins"],
                         balance_after=r["balance_after"], unlocked_at=r["created_at"])
            for r in rows]
