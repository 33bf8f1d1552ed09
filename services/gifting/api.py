"""Gifting HTTP app: wallets (here), gifts (gifts.py) and unlocks (unlocks.py)."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.deps import PoolDep
from eventkit.fields import query_int
from eventkit.http import create_app
from eventkit.settings import Settings
from services.gifting import (
    accounts,
    battles,
    fan_levels_api,
    gifts,
    goals,
    ledger,
    live_events,
    lots_store,
    partners,
    partners_admin,
    partners_consents,
    partners_oauth,
    rooms,
    spending_limits,
    subscriptions,
    unlocks,
)

router = APIRouter(prefix="/v1", tags=["wallet"])


class WalletPublic(BaseModel):
    user_id: str
    balance: int


class StatementEntry(BaseModel):
    entry_id: int
    event_id: UUID
    kind: str
    delta: int
    balance_after: int
    created_at: datetime


class StatementPage(BaseModel):
    entries: list[StatementEntry]
    next_before: int | None = None
    # announced ahead (lots_store.ANNOUNCE): bonus coins that expire unless spent first
    upcoming_expiries: list[lots_store.UpcomingExpiry] = []


@router.get(
    "/wallet",
    summary="The caller's spendable coin balance",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def get_wallet(caller: CallerDep, pool: PoolDep) -> WalletPublic:
    """Also registers the caller's verified profile, so creators can receive gifts."""
    async with pool.acquire() as conn:
        await accounts.remember_caller(conn, caller)
        return WalletPublic(
            user_id=caller.user_id, balance=await ledger.balance(conn, caller.user_id)
        )


@router.get(
    "/wallet/statement",
    summary="The caller's wallet history, newest first",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def get_statement(
    caller: CallerDep,
    pool: PoolDep,
    limit: Annotated[int, *query_int(1, 500), Query()] = 50,
    # At most 18 digits, as query_int reads them (a bigserial id never
    # gets near that), so the bound the document shows is the one applied.
    before: Annotated[
        Annotated[int, *query_int(1, 10**18 - 1)] | None,
        Query(description="next_before of the last page"),
    ] = None,
) -> StatementPage:
    """Also announces the caller's bonus coins that expire within 7 days (soonest first)."""
    async with pool.acquire() as conn:
        rows = await ledger.statement(conn, caller.user_id, limit, before)
        expiring = await lots_store.upcoming_expiries(conn, caller.user_id, datetime.now(UTC))
    entries = [StatementEntry(**r) for r in rows]
    return StatementPage(
        entries=entries,
        next_before=entries[-1].entry_id if len(entries) == limit else None,
        upcoming_expiries=expiring,
    )


async def start_batching(app: FastAPI) -> None:
    await gifts.start_batching(app)
    await unlocks.start_batching(app)


async def stop_batching(app: FastAPI) -> None:
    await gifts.stop_batching(app)
    await unlocks.stop_batching(app)


def create(settings: Settings) -> FastAPI:
    app = create_app(
        "Coinstream gifting",
        "gifting",
        settings,
        [
            router,
            gifts.router,
            unlocks.router,
            rooms.router,
            goals.router,
            battles.router,
            live_events.router,
            fan_levels_api.router,
            subscriptions.router,
            spending_limits.router,
            partners_admin.router,
            partners_oauth.router,
            partners_consents.router,
            partners.router,
        ],
        description="Wallets, gifts and unlocks.",
        on_start=start_batching,
        on_stop=stop_batching,
    )
    app.state.clock = lambda: datetime.now(UTC)  # tests replace it to stand around midnight
    return app
