"""Gifting HTTP API: wallet balance and sending gifts."""

from datetime import date
from uuid import UUID, uuid4

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.eventstore import append
from eventkit.http import create_app
from eventkit.idempotency import IdempotencyKey, request_hash, run_once
from eventkit.settings import Settings
from schemas import topics
from schemas.events.gifting import GiftContext, GiftSent
from services.gifting import ledger
from services.gifting.catalog import load_catalog
from services.gifting.errors import GiftNotFound, InsufficientCoins, NotEligible, SelfGift
from services.rules.eligibility import load_policy, refusal

SOURCE = "/coinstream/gifting"
router = APIRouter(prefix="/v1", tags=["gifting"])


class WalletPublic(BaseModel):
    user_id: str
    balance: int


class GiftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    creator_id: str = Field(min_length=1, max_length=128)
    context: GiftContext
    gift_code: str = Field(min_length=1, max_length=64, examples=["rose"])
    quantity: int = Field(default=1, ge=1, le=999)


class GiftPublic(BaseModel):
    gift_id: UUID
    event_id: UUID
    coins: int
    balance_after: int


@router.get("/wallet", summary="The caller's spendable coin balance")
async def get_wallet(caller: CallerDep, request: Request) -> WalletPublic:
    async with request.app.state.pool.acquire() as conn:
        return WalletPublic(user_id=caller.user_id,
                            balance=await ledger.balance(conn, caller.user_id))


@router.post("/gifts", status_code=201, summary="Send a gift to a creator",
             responses=problems.problem_responses(
                 problems.Unauthorized, NotEligible, GiftNotFound, InsufficientCoins, SelfGift,
                 problems.IdempotencyKeyReused, problems.MissingIdempotencyKey))
async def send_gift(body: GiftCreate, caller: CallerDep, key: IdempotencyKey, request: Request,
                    response: Response) -> GiftPublic:
    """Debits the gift's price from the caller's wallet (refused with 409 when the balance is
    short, decided inside PostgreSQL) and records `GiftSent`."""
    if body.creator_id == caller.user_id:
        raise SelfGift()
    why = refusal(load_policy(), caller.country, caller.birthdate, caller.account_type,
                  date.today())
    if why:
        raise NotEligible(why)
    catalog = load_catalog()
    price = catalog.price(body.gift_code, body.quantity)
    if price is None:
        raise GiftNotFound(f"no gift {body.gift_code!r}")

    async def work(conn):
        spent = await ledger.spend(conn, caller.user_id, price.coins)
        if spent is None:
            raise InsufficientCoins(f"{price.coins} coins needed",
                                    balance=await ledger.balance(conn, caller.user_id))
        balance_after, version = spent
        gift_id = uuid4()
        event = new_envelope(SOURCE, GiftSent(
            gift_id=str(gift_id), sender_id=caller.user_id, creator_id=body.creator_id,
            context=body.context, gift_code=price.gift_code, quantity=price.quantity,
            unit_price=price.unit_price, coins=price.coins,
            diamonds_per_coin=catalog.diamonds_per_coin, commission_rate=catalog.commission_rate,
            rates_version=catalog.rates_version, catalog_version=catalog.version,
            balance_after=balance_after),
            aggregate_id=f"wallet-{caller.user_id}", aggregate_version=version,
            subject=body.creator_id)
        await ledger.record_spend(conn, caller.user_id, event.id, "gift", price.coins,
                                  balance_after)
        await append(conn, topics.GIFTING_EVENTS, event)
        out = GiftPublic(gift_id=gift_id, event_id=event.id, coins=price.coins,
                         balance_after=balance_after)
        return 201, out.model_dump(mode="json")

    status, out, replayed = await run_once(
        request.app.state.pool, caller.user_id, key,
        request_hash("POST /v1/gifts", body.model_dump(mode="json")), work)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return GiftPublic.model_validate(out)


def create(settings: Settings) -> FastAPI:
    return create_app("Coinstream gifting", "gifting", settings, [router],
                      description="Wallets, gifts and unlocks.")
