"""Ticketed exclusive live events: creators schedule, start and cancel them; fans buy tickets
(live_events_decide: the rules; live_events_store: the transactions)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.deps import ClockDep, PoolDep
from eventkit.fields import Count, Reason
from eventkit.idempotency import IdempotencyKey, respond_once
from schemas.text import Id
from services.gifting import accounts, live_events_store
from services.gifting.errors import (
    Banned,
    InsufficientCoins,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    SellerNotEligible,
)
from services.gifting.live_events_decide import LiveEvent, schedule_refusal
from services.gifting.live_events_errors import (
    InvalidStartTime,
    LiveEventClosed,
    LiveEventNotFound,
    SelfTicket,
    SoldOut,
    TooEarlyToStart,
)
from services.gifting.live_events_store import Ticket
from services.gifting.unlocks import MAX_PRICE, check_seller

router = APIRouter(prefix="/v1", tags=["live events"])

MAX_CAPACITY = 100_000
LiveEventId = Annotated[Id, Path(examples=["5f0c5a0e-8f7e-4c1e-9a59-6d1f2b7c8a90"])]


class LiveEventCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Acoustic set, fans only",
                    "coins": 500,
                    "capacity": 50,
                    "starts_at": "2027-06-01T20:00:00Z",
                }
            ]
        },
    )

    title: Annotated[Reason, Field(min_length=1, max_length=200)]
    coins: Count = Field(gt=0, le=MAX_PRICE, description="The price of one ticket")
    capacity: Count = Field(gt=0, le=MAX_CAPACITY, description="Tickets on sale")
    starts_at: AwareDatetime = Field(description="In the future, at most 365 days ahead")


class LiveEventPublic(BaseModel):
    live_event_id: str
    creator_id: str
    title: str
    coins: int
    capacity: int
    sold: int
    seats_left: int
    starts_at: datetime
    state: str = Field(description="scheduled (on sale), started or cancelled")


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"coins": 500}]})

    coins: Count = Field(
        gt=0,
        le=MAX_PRICE,
        description="The ticket price the fan was shown (GET /v1/live-events/{id}); another"
        " price is refused with 409 `price-changed` and nothing is charged",
    )


class TicketPublic(BaseModel):
    ticket_id: UUID
    live_event_id: str
    coins: int
    balance_after: int = Field(description="Wallet balance right after the purchase")
    state: str = Field(description="held (until the start), settled or refunded")
    bought_at: datetime
    already_bought: bool = False


class Closing(BaseModel):
    """What starting or cancelling an event did to its tickets."""

    live_event: LiveEventPublic
    tickets: int = Field(description="Tickets settled to the creator (start) or refunded")
    coins: int


def public(event: LiveEvent) -> dict:
    return LiveEventPublic(
        live_event_id=event.live_event_id,
        creator_id=event.creator_id,
        title=event.title,
        coins=event.coins,
        capacity=event.capacity,
        sold=event.sold,
        seats_left=event.seats_left,
        starts_at=event.starts_at,
        state=event.state,
    ).model_dump(mode="json")


def ticket_public(ticket: Ticket, *, already: bool) -> dict:
    return TicketPublic(
        ticket_id=ticket.ticket_id,
        live_event_id=ticket.live_event_id,
        coins=ticket.coins,
        balance_after=ticket.balance_after,
        state=ticket.state,
        bought_at=ticket.created_at,
        already_bought=already,
    ).model_dump(mode="json")


KEYED = (problems.IdempotencyKeyReused, problems.MissingIdempotencyKey)


@router.post(
    "/live-events",
    status_code=201,
    summary="Schedule a ticketed live event",
    responses=problems.problem_responses(
        problems.Unauthorized, problems.Forbidden, SellerNotEligible, InvalidStartTime, *KEYED
    ),
)
async def schedule(
    body: LiveEventCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> LiveEventPublic:
    """Creators only, under the rules of earning (as listing an item). The rates in force now
    are the ones its tickets earn at. A retry with the same Idempotency-Key replays the first
    answer and schedules nothing more."""
    if not caller.has("creator"):
        raise problems.Forbidden("only creators schedule live events")
    refusal = schedule_refusal(body.starts_at, now)
    if refusal:
        raise refusal

    async def work(conn):
        await check_seller(conn, caller, now)
        await accounts.remember_caller(conn, caller)
        event = await live_events_store.schedule(
            conn,
            caller.user_id,
            str(uuid4()),
            body.title,
            body.coins,
            body.capacity,
            body.starts_at,
        )
        return 201, public(event)

    return await respond_once(request, response, caller.user_id, key, body, work, LiveEventPublic)


@router.get(
    "/live-events/{live_event_id}",
    summary="A live event: price, seats left, state",
    responses=problems.problem_responses(LiveEventNotFound),
)
async def get_live_event(live_event_id: LiveEventId, pool: PoolDep) -> LiveEventPublic:
    """Public. `coins` is the price a ticket names to be charged it."""
    async with pool.acquire() as conn:
        event = await live_events_store.read(conn, live_event_id)
    if event is None:
        raise LiveEventNotFound(live_event_id)
    return LiveEventPublic.model_validate(public(event))


@router.post(
    "/live-events/{live_event_id}/tickets",
    status_code=201,
    summary="Buy a ticket to a live event",
    responses=problems.problem_responses(
        problems.Unauthorized,
        NotEligible,
        Banned,
        SelfTicket,
        RecipientNotEligible,
        LiveEventNotFound,
        LiveEventClosed,
        SoldOut,
        PriceChanged,
        InsufficientCoins,
        *KEYED,
    ),
)
async def buy_ticket(
    live_event_id: LiveEventId,
    body: TicketCreate,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
) -> TicketPublic:
    """Debits the ticket price; the coins are held (nobody earns them) until the event starts,
    and come back to the fan if the creator cancels it. One ticket per fan: buying again
    answers 200 with the ticket held, charged nothing. Never more tickets than the capacity
    (409 `sold-out`); none once the event started or was cancelled (409 `live-event-closed`).
    Refused like any spend for a spender not eligible or banned, or a short balance."""

    async def work(conn):
        ticket, bought = await live_events_store.buy(conn, caller, live_event_id, body.coins, now)
        return (201 if bought else 200), ticket_public(ticket, already=not bought)

    return await respond_once(request, response, caller.user_id, key, body, work, TicketPublic)


@router.get(
    "/tickets",
    summary="The caller's tickets",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def list_tickets(caller: CallerDep, pool: PoolDep) -> list[TicketPublic]:
    async with pool.acquire() as conn:
        tickets = await live_events_store.tickets_of(conn, caller.user_id)
    return [TicketPublic.model_validate(ticket_public(t, already=False)) for t in tickets]


class NoBody(BaseModel):
    """Start and cancel take no fields (the body is optional; `{}` is the same)."""

    model_config = ConfigDict(extra="forbid")


CLOSING = (
    problems.Unauthorized,
    problems.Forbidden,
    LiveEventNotFound,
    LiveEventClosed,
    *KEYED,
)


@router.post(
    "/live-events/{live_event_id}/start",
    summary="Go live: close ticket sales and settle the tickets' coins to the creator",
    responses=problems.problem_responses(*CLOSING, TooEarlyToStart),
)
async def start(
    live_event_id: LiveEventId,
    caller: CallerDep,
    key: IdempotencyKey,
    now: ClockDep,
    request: Request,
    response: Response,
    body: NoBody | None = None,
) -> Closing:
    """The event's creator, from 15 minutes before its start time. The held coins of every
    ticket are settled: `LiveEventStarted` records them and the rates, and payout credits the
    creator floor(coins x diamonds_per_coin) diamonds. Once started it cannot be cancelled."""

    async def work(conn):
        event, n, coins = await live_events_store.start(conn, caller.user_id, live_event_id, now)
        closed = await live_events_store.read(conn, event.live_event_id)
        assert closed is not None
        return 200, {"live_event": public(closed), "tickets": n, "coins": coins}

    return await respond_once(
        request, response, caller.user_id, key, body or NoBody(), work, Closing
    )


@router.post(
    "/live-events/{live_event_id}/cancel",
    summary="Cancel before the start: every ticket's coins go back to its buyer",
    responses=problems.problem_responses(*CLOSING),
)
async def cancel(
    live_event_id: LiveEventId,
    caller: CallerDep,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    body: NoBody | None = None,
) -> Closing:
    """The event's creator, before it started. Each ticket is refunded to its buyer's wallet
    (`TicketRefunded`, one each: the one refund the platform makes). A cancel racing a start
    has one outcome: the second of the two is refused with 409 `live-event-closed`."""

    async def work(conn):
        event, n, coins = await live_events_store.cancel(conn, caller.user_id, live_event_id)
        closed = await live_events_store.read(conn, event.live_event_id)
        assert closed is not None
        return 200, {"live_event": public(closed), "tickets": n, "coins": coins}

    return await respond_once(
        request, response, caller.user_id, key, body or NoBody(), work, Closing
    )
