"""The caller's fan level with a creator (fan_levels: the rules; fan_levels_store: the table)."""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from eventkit import problems
from eventkit.auth import CallerDep, UserId
from eventkit.deps import ClockDep, PoolDep
from services.gifting import fan_levels, fan_levels_store

router = APIRouter(prefix="/v1", tags=["fan levels"])


class FanLevelPublic(BaseModel):
    creator_id: str
    points: int = Field(description="Today's points: 1 per coin gifted, less the decay")
    level: int = Field(description="0 (not a member) to 10")
    next_level_points: int | None = Field(description="Points the next level needs")
    last_gift_day: date | None = Field(description="UTC day of the latest gift counted")
    lapses_on: date | None = Field(
        description="The UTC day the membership lapses on without another gift"
    )


@router.get(
    "/fan-levels/{creator_id}",
    summary="The caller's fan level with a creator",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def get_fan_level(
    creator_id: Annotated[UserId, Path(examples=["creator-1"])],
    caller: CallerDep,
    pool: PoolDep,
    now: ClockDep,
) -> FanLevelPublic:
    """Points per coin gifted to the creator, decaying each UTC day without a gift and gone
    after 7 such days (docs/live-events.md, "Fan levels"). Gifts with a `min_fan_level` in the
    gift catalog need that level."""
    async with pool.acquire() as conn:
        state = await fan_levels_store.state(conn, caller.user_id, creator_id)
    today = fan_levels.day_of(now)
    points = fan_levels.points_on(state, today)
    level = fan_levels.level(points)
    member = state is not None and points > 0
    return FanLevelPublic(
        creator_id=creator_id,
        points=points,
        level=level,
        next_level_points=fan_levels.LEVELS[level] if level < len(fan_levels.LEVELS) else None,
        last_gift_day=state.last_day if member and state else None,
        lapses_on=state.last_day + timedelta(days=fan_levels.LAPSE_DAYS + 1)
        if member and state
        else None,
    )
