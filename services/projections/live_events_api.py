"""Read API of ticketed live events and fan levels (the read models of tickets.py and
fan_levels.py), each answer with its freshness like every read."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from eventkit import problems
from eventkit.auth import CallerDep, UserId
from eventkit.deps import PoolDep
from schemas.text import Id
from services.gifting import fan_levels as rules
from services.projections import fan_levels
from services.projections.api import Freshness, freshness  # api.create includes this router

router = APIRouter(prefix="/v1", tags=["read models"])


class NotProjected(problems.DomainError):
    status, code, title = 404, "not-found", "Not in the read models (yet)"


class LiveEventSales(BaseModel):
    live_event_id: str
    creator_id: str | None
    title: str | None
    coins: int | None
    capacity: int | None
    starts_at: datetime | None
    started_at: datetime | None
    cancelled_at: datetime | None
    tickets_sold: int
    tickets_refunded: int
    tickets_settled: int
    coins_held: int
    freshness: Freshness


class FanLevel(BaseModel):
    fan_id: str
    creator_id: str
    points: int
    level: int
    freshness: Freshness


@router.get(
    "/live-events/{live_event_id}/sales",
    summary="A live event's tickets sold, refunded and settled, as projected",
    responses=problems.problem_responses(problems.Unauthorized, NotProjected),
)
async def sales(
    live_event_id: Annotated[Id, Path()], caller: CallerDep, pool: PoolDep
) -> LiveEventSales:
    row = await pool.fetchrow(
        "SELECT live_event_id, creator_id, title, coins, capacity, starts_at, started_at,"
        " cancelled_at, tickets_sold, tickets_refunded, tickets_settled,"
        " coins_sold - coins_refunded - coins_settled AS coins_held"
        " FROM live_event_sales WHERE live_event_id = $1",
        live_event_id,
    )
    if row is None:
        raise NotProjected(live_event_id)
    return LiveEventSales(**dict(row), freshness=await freshness(pool))


@router.get(
    "/fan-levels/{creator_id}",
    summary="The caller's fan level with a creator, as projected",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def fan_level(
    creator_id: Annotated[UserId, Path()], caller: CallerDep, pool: PoolDep
) -> FanLevel:
    """Folded from the projected days of the caller's gifts to the creator with the rules
    gifting applies (docs/live-events.md, "Fan levels"), for today (UTC)."""
    async with pool.acquire() as conn:
        state = await fan_levels.fan_state(conn, caller.user_id, creator_id)
    points = rules.points_on(state, rules.day_of(datetime.now(UTC)))
    return FanLevel(
        fan_id=caller.user_id,
        creator_id=creator_id,
        points=points,
        level=rules.level(points),
        freshness=await freshness(pool),
    )
