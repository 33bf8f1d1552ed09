"""Read API of battles, LIVE goals and a stream's recipients (the read models of battles.py and
goals.py): anyone signed in reads them, each answer with its freshness like every read."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.deps import PoolDep
from eventkit.fields import query_int
from schemas.text import Id
from services.projections.api import Freshness, freshness  # api.create includes this router

router = APIRouter(prefix="/v1", tags=["read models"])


class NotProjected(problems.DomainError):
    status, code, title = 404, "not-found", "Not in the read models (yet)"


class SideScore(BaseModel):
    side: int
    host_id: str | None
    room_id: str | None
    score: int


class Battle(BaseModel):
    battle_id: str
    started_by: str | None
    started_at: datetime | None
    ends_at: datetime | None
    ended_at: datetime | None
    winner_side: int | None
    sides: list[SideScore]
    freshness: Freshness


class Goal(BaseModel):
    goal_id: str
    creator_id: str | None
    stream_id: str | None
    metric: str | None
    gift_code: str | None
    target: int | None
    deadline: datetime | None
    progress: int
    reached_at: datetime | None
    reached_by_gift: str | None


class GoalRead(Goal):
    freshness: Freshness


class StreamGoals(BaseModel):
    stream_id: str
    goals: list[Goal]
    freshness: Freshness


class Recipient(BaseModel):
    rank: int
    creator_id: str
    gifts: int
    coins: int
    diamonds: int


class StreamRecipients(BaseModel):
    stream_id: str
    recipients: list[Recipient]
    freshness: Freshness


_GOAL = (
    "SELECT goal_id, creator_id, stream_id, metric, gift_code, target, deadline,"
    " coalesce(progress, 0) AS progress, reached_at, reached_by_gift FROM live_goals"
)


@router.get(
    "/battles/{battle_id}",
    summary="A battle's sides and scores, as projected",
    responses=problems.problem_responses(problems.Unauthorized, NotProjected),
)
async def battle(battle_id: Annotated[Id, Path()], caller: CallerDep, pool: PoolDep) -> Battle:
    row = await pool.fetchrow(
        "SELECT battle_id, started_by, started_at, ends_at, ended_at, winner_side FROM battles"
        " WHERE battle_id = $1",
        battle_id,
    )
    if row is None:
        raise NotProjected(f"no battle {battle_id}")
    sides = await pool.fetch(
        "SELECT side, host_id, room_id, coalesce(score, 0) AS score FROM battle_sides"
        " WHERE battle_id = $1 ORDER BY side",
        battle_id,
    )
    return Battle(
        **dict(row),
        sides=[SideScore(**dict(s)) for s in sides],
        freshness=await freshness(pool),
    )


@router.get(
    "/goals/{goal_id}",
    summary="A LIVE goal and its progress, as projected",
    responses=problems.problem_responses(problems.Unauthorized, NotProjected),
)
async def goal(goal_id: Annotated[Id, Path()], caller: CallerDep, pool: PoolDep) -> GoalRead:
    row = await pool.fetchrow(f"{_GOAL} WHERE goal_id = $1", goal_id)
    if row is None:
        raise NotProjected(f"no goal {goal_id}")
    return GoalRead(**dict(row), freshness=await freshness(pool))


@router.get(
    "/streams/{stream_id}/goals",
    summary="A stream's LIVE goals, latest deadline first",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def stream_goals(
    stream_id: Annotated[Id, Path()],
    caller: CallerDep,
    pool: PoolDep,
    limit: Annotated[int, *query_int(1, 100), Query()] = 20,
) -> StreamGoals:
    rows = await pool.fetch(
        f"{_GOAL} WHERE stream_id = $1 ORDER BY deadline DESC, goal_id LIMIT $2",
        stream_id,
        limit,
    )
    return StreamGoals(
        stream_id=stream_id, goals=[Goal(**dict(r)) for r in rows], freshness=await freshness(pool)
    )


@router.get(
    "/streams/{stream_id}/recipients",
    summary="A stream's recipients by diamonds earned (every guest of a multi-guest gift)",
    responses=problems.problem_responses(problems.Unauthorized),
)
async def stream_recipients(
    stream_id: Annotated[Id, Path()],
    caller: CallerDep,
    pool: PoolDep,
    limit: Annotated[int, *query_int(1, 100), Query()] = 10,
) -> StreamRecipients:
    rows = await pool.fetch(
        "SELECT rank() OVER (ORDER BY diamonds DESC) AS rank, creator_id, gifts, coins, diamonds"
        " FROM stream_recipients WHERE stream_id = $1 ORDER BY diamonds DESC, creator_id"
        " LIMIT $2",
        stream_id,
        limit,
    )
    return StreamRecipients(
        stream_id=stream_id,
        recipients=[Recipient(**dict(r)) for r in rows],
        freshness=await freshness(pool),
    )
