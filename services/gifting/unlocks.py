"""Priced items (exclusive content, features) and unlocking them with coins."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import Caller, CallerDep
from eventkit.codec import new_envelope
from eventkit.deps import ClockDep, PoolDep
from eventkit.eventstore import append
from eventkit.fields import Count, Reason
from eventkit.idempotency import IdempotencyKey, fingerprint, respond_once
from policy.coin_value import VALUE_DESCRIPTION, value_of
from policy.eligibility import load_policy
from schemas import topics
from schemas.events.gifting import ItemListed
from schemas.money import Money
from schemas.text import Id
from services.gifting import accounts, spend_batch, unlock_batch
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
from services.gifting.limits_errors import REFUSALS as LIMIT_REFUSALS
from services.gifting.rules import Profile, earner_refusal
from services.gifting.unlock_batch import SOURCE, public_owner
from services.gifting.unlock_decide import UnlockCommand

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
    value: Money = Field(description=VALUE_DESCRIPTION)
    balance_after: int = Field(description="Wallet balance right after this unlock")
    unlocked_at: datetime
    already_unlocked: bool = False


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
        owner_name = public_owner(owner)
        await append(
            conn,
            topics.GIFTING_EVENTS,
            new_envelope(
                SOURCE,
                ItemListed(
                    item_id=body.item_id,
                    owner_id=owner_name,
                    title=body.title,
                    coins=body.coins,
                    item_version=row["version"],
                ),
                aggregate_id=f"item-{body.item_id}",
                aggregate_version=row["version"],
                subject=owner_name,
            ),
        )
        return 201, ItemPublic(
            item_id=body.item_id,
            owner_id=owner_name,
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
    return ItemPublic(**{**row, "owner_id": public_owner(row["owner_id"])})


@router.post(
    "/unlocks",
    status_code=201,
    response_model=UnlockPublic,
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
        *LIMIT_REFUSALS,
        problems.IdempotencyKeyReused,
        problems.MissingIdempotencyKey,
    ),
)
async def unlock(
    body: UnlockCreate, caller: CallerDep, key: IdempotencyKey, now: ClockDep, request: Request
) -> Response:
    """Debits the item's price once and records `ContentUnlocked`. Unlocking an item the caller
    already unlocked charges nothing and answers 200 with the original unlock, whatever the
    Idempotency-Key. Refused (and nothing recorded) like a gift: a spender who is not eligible
    or is banned from gifting; the item's own owner (403 `self-unlock`); an owner who could not
    receive a gift (under age, a country not served, an ineligible account type, banned from
    receiving: 403 `recipient-not-eligible`; platform items have no owner to check); a price
    other than the `coins` the caller names (409 `price-changed`); a short balance."""
    # Concurrent unlocks are committed together (unlock_batch): each still gets its own answer.
    outcome = await request.app.state.unlocks.submit(
        UnlockCommand(caller, key, fingerprint(request, body), body.item_id, body.coins, now)
    )
    return spend_batch.respond(outcome)  # the body: as UnlockPublic writes it (unlock_batch)


@router.get(
    "/unlocks",
    summary="What the caller has unlocked",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def list_unlocks(caller: CallerDep, pool: PoolDep) -> list[UnlockPublic]:
    rows = await pool.fetch(
        "SELECT unlock_id, item_id, coins, balance_after, created_at FROM unlocks"
        # one batch's unlocks share created_at; a user's balance falls with each of them
        " WHERE user_id = $1 ORDER BY created_at, balance_after DESC",
        caller.user_id,
    )
    return [
        UnlockPublic(
            unlock_id=r["unlock_id"],
            item_id=r["item_id"],
            coins=r["coins"],
            value=value_of(r["coins"], caller.country),
            balance_after=r["balance_after"],
            unlocked_at=r["created_at"],
        )
        for r in rows
    ]


async def start_batching(app: FastAPI) -> None:
    app.state.unlocks = unlock_batch.batcher(app.state.pool)
    app.state.unlocks.start()


async def stop_batching(app: FastAPI) -> None:
    await app.state.unlocks.stop()
