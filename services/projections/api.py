"""Read API over the read models: fans see their own wallet and statement, creators their own
earnings, anyone signed in a stream's leaderboard; the web dashboards at /dashboard
(services/projections/dashboard). Every answer says how fresh it is: the time
of the newest event projected and the worker's lag (as it last measured it), because a read
model trails the services by design."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import BaseModel

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.deps import PoolDep
from eventkit.fields import Instant, query_int
from eventkit.http import create_app
from eventkit.roles import READER
from eventkit.settings import Settings
from schemas.text import Id
from services.projections import dashboard

router = APIRouter(prefix="/v1", tags=["read models"])
AUTH = problems.problem_responses(problems.Unauthorized)


class Freshness(BaseModel):
    last_event_time: datetime | None = None
    lag_events: int | None = None
    lag_measured_at: datetime | None = None
    age_seconds: float | None = None


class Wallet(BaseModel):
    user_id: str
    balance: int = 0
    purchased: int = 0
    clawed_back: int = 0
    gifted: int = 0
    unlocked: int = 0
    events: int = 0
    last_event_time: datetime | None = None
    freshness: Freshness


class StatementLine(BaseModel):
    event_id: str
    event_time: datetime
    kind: str
    coins: int
    reference: str
    counterparty: str | None
    balance_after: int | None


class Statement(BaseModel):
    user_id: str
    lines: list[StatementLine]
    freshness: Freshness


class StreamEarnings(BaseModel):
    stream_id: str
    credits: int
    coins: int
    diamonds: int


class DayEarnings(BaseModel):
    day: date
    credits: int
    diamonds_earned: int
    diamonds_paid: int


class Earnings(BaseModel):
    creator_id: str
    credits: int = 0
    coins_received: int = 0
    diamonds_earned: int = 0
    diamonds_available: int = 0
    diamonds_held: int = 0
    diamonds_pending: int = 0
    diamonds_paid: int = 0
    streams: list[StreamEarnings]
    days: list[DayEarnings]
    freshness: Freshness


class Gifter(BaseModel):
    rank: int
    sender_id: str
    gifts: int
    quantity: int
    coins: int


class Combo(BaseModel):
    combo_id: str
    sender_id: str
    gift_code: str
    gifts: int
    coins: int
    max_combo_count: int


class Leaderboard(BaseModel):
    stream_id: str
    gifters: list[Gifter]
    combos: list[Combo]
    freshness: Freshness


async def freshness(pool) -> Freshness:
    row = await pool.fetchrow(
        "SELECT last_event_time, lag_events, lag_measured_at,"
        " extract(epoch FROM now() - last_event_time)::float8 AS age_seconds"
        " FROM analytics.freshness"
    )
    return Freshness(**dict(row))


@router.get("/wallet", summary="The caller's coin balance as projected", responses=AUTH)
async def wallet(caller: CallerDep, pool: PoolDep) -> Wallet:
    row = await pool.fetchrow(
        "SELECT purchased, clawed_back, gifted, unlocked, balance, events, last_event_time"
        " FROM wallet_balances WHERE user_id = $1",
        caller.user_id,
    )
    return Wallet(
        user_id=caller.user_id, **(dict(row) if row else {}), freshness=await freshness(pool)
    )


@router.get(
    "/wallet/statement", summary="The caller's wallet movements, newest first", responses=AUTH
)
async def statement(
    caller: CallerDep,
    pool: PoolDep,
    limit: Annotated[int, *query_int(1, 500), Query()] = 50,
    before: Annotated[
        Instant | None,
        Query(
            description="Only movements before this RFC 3339 time (with an "
            "offset): the last line's event_time pages on"
        ),
    ] = None,
) -> Statement:
    rows = await pool.fetch(
        "SELECT event_id::text, event_time, kind, coins, reference, counterparty, balance_after"
        " FROM wallet_statements WHERE user_id = $1"
        " AND ($2::timestamptz IS NULL OR event_time < $2)"
        " ORDER BY event_time DESC, event_id LIMIT $3",
        caller.user_id,
        before,
        limit,
    )
    return Statement(
        user_id=caller.user_id,
        lines=[StatementLine(**dict(r)) for r in rows],
        freshness=await freshness(pool),
    )


@router.get(
    "/earnings",
    summary="The calling creator's diamonds: totals, per stream, per day",
    responses=problems.problem_responses(problems.Unauthorized, problems.Forbidden),
)
async def earnings(
    caller: CallerDep, pool: PoolDep, days: Annotated[int, *query_int(1, 366), Query()] = 30
) -> Earnings:
    if not caller.has("creator"):
        raise problems.Forbidden("creator role required")
    totals = await pool.fetchrow(
        "SELECT gifts_received AS credits, coins_received, diamonds_earned, diamonds_available,"
        " diamonds_held, diamonds_pending, diamonds_paid FROM creator_earnings"
        " WHERE creator_id = $1",
        caller.user_id,
    )
    streams = await pool.fetch(
        "SELECT stream_id, credits, coins, diamonds FROM creator_stream_earnings"
        " WHERE creator_id = $1 ORDER BY diamonds DESC, stream_id LIMIT 100",
        caller.user_id,
    )
    per_day = await pool.fetch(
        "SELECT day, credits, diamonds_earned, diamonds_paid FROM creator_daily_earnings"
        " WHERE creator_id = $1 ORDER BY day DESC LIMIT $2",
        caller.user_id,
        days,
    )
    return Earnings(
        creator_id=caller.user_id,
        **(dict(totals) if totals else {}),
        streams=[StreamEarnings(**dict(r)) for r in streams],
        days=[DayEarnings(**dict(r)) for r in per_day],
        freshness=await freshness(pool),
    )


@router.get(
    "/streams/{stream_id}/leaderboard",
    summary="Top gifters and gift combos of a stream",
    responses=AUTH,
)
async def leaderboard(
    stream_id: Annotated[Id, Path()],
    caller: CallerDep,
    pool: PoolDep,
    limit: Annotated[int, *query_int(1, 100), Query()] = 10,
) -> Leaderboard:
    gifters = await pool.fetch(
        "SELECT rank() OVER (ORDER BY coins DESC) AS rank, sender_id, gifts, quantity, coins"
        " FROM stream_gifters WHERE stream_id = $1 ORDER BY coins DESC, sender_id LIMIT $2",
        stream_id,
        limit,
    )
    combos = await pool.fetch(
        "SELECT combo_id, sender_id, gift_code, gifts, coins, max_combo_count"
        " FROM stream_combos WHERE stream_id = $1 ORDER BY coins DESC, combo_id LIMIT $2",
        stream_id,
        limit,
    )
    return Leaderboard(
        stream_id=stream_id,
        gifters=[Gifter(**dict(r)) for r in gifters],
        combos=[Combo(**dict(r)) for r in combos],
        freshness=await freshness(pool),
    )


def create(settings: Settings) -> FastAPI:
    from services.projections import (  # they read this module's Freshness
        live_events_api,
        multi_guest_api,
    )

    # Read-only on the read models (eventkit.roles.READER): a bug here cannot write anything.
    return create_app(
        "Coinstream read API",
        "projections",
        settings,
        [router, multi_guest_api.router, live_events_api.router, dashboard.api, dashboard.pages],
        description=__doc__,
        login=READER,
    )
