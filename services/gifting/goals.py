"""LIVE goals: a creator sets a target for a stream (coins of gifts, or a number of one gift)
with a deadline. The gift batches move its progress (goals_store) and emit GoalReached once,
in the transaction of the gift that crosses the target; gifts at or after the deadline do not
count. The progress here is gifting's own; the read API's (projections) follows the events."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from eventkit import problems
from eventkit.auth import CallerDep
from eventkit.codec import new_envelope
from eventkit.deps import ClockDep, PoolDep
from eventkit.eventstore import append
from eventkit.fields import Instant
from schemas import topics
from schemas.events.rooms import GoalSet
from schemas.text import Id
from services.gifting.catalog import load_catalog
from services.gifting.errors import GiftNotFound
from services.gifting.rooms_errors import GoalExists, GoalNotFound

SOURCE = "/coinstream/gifting"
MAX_AHEAD = timedelta(days=7)  # a goal is for a stream, not for ever
MAX_TARGET = 10**12
router = APIRouter(prefix="/v1", tags=["goals"])
GoalId = Annotated[Id, Path(examples=["goal-1"])]


class DeadlineOutOfRange(problems.DomainError):
    # 409, not 422: the body is well formed; only the clock makes the deadline unacceptable.
    status, code, title = 409, "deadline-out-of-range", "The deadline must be in the next 7 days"


class CoinsTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Literal["coins"]
    target: int = Field(gt=0, le=MAX_TARGET, description="Coins of gifts sent on the stream")


class GiftsTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Literal["gifts"]
    gift_code: Annotated[Id, Field(max_length=64)]
    target: int = Field(gt=0, le=MAX_TARGET, description="How many of this gift")


class GoalCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "stream_id": "stream-1",
                    "goal": {"metric": "coins", "target": 10000},
                    "deadline": "2026-12-24T20:00:00Z",
                },
                {
                    "stream_id": "stream-1",
                    "goal": {"metric": "gifts", "gift_code": "rose", "target": 100},
                    "deadline": "2026-12-24T20:00:00Z",
                },
            ]
        },
    )

    stream_id: Id
    goal: CoinsTarget | GiftsTarget = Field(discriminator="metric")
    deadline: Instant


class GoalPublic(BaseModel):
    goal_id: str
    creator_id: str
    stream_id: str
    metric: str
    gift_code: str | None
    target: int
    deadline: datetime
    progress: int
    reached: bool
    reached_by_gift: str | None = None


_READ = """
SELECT g.goal_id, g.creator_id, g.stream_id, g.metric, g.gift_code, g.target, g.deadline,
       g.progress, r.gift_id::text AS reached_by_gift
FROM goals g LEFT JOIN goals_reached r USING (goal_id) WHERE g.goal_id = $1
"""


def goal_public(row: asyncpg.Record) -> GoalPublic:
    return GoalPublic(**dict(row), reached=row["reached_by_gift"] is not None)


@router.put(
    "/goals/{goal_id}",
    summary="Set a LIVE goal for a stream (creators)",
    responses=problems.problem_responses(
        problems.Unauthorized,
        problems.Forbidden,
        GiftNotFound,
        GoalExists,
        DeadlineOutOfRange,
    ),
)
async def put_goal(
    goal_id: GoalId, body: GoalCreate, caller: CallerDep, pool: PoolDep, now: ClockDep
) -> GoalPublic:
    """The first PUT sets the goal (GoalSet); the same PUT again answers the same goal, a
    different one is 409 `goal-exists` (a goal's target never moves: GoalReached is final).
    Progress counts the gifts sent on `stream_id` from now until `deadline` (at most 7 days
    ahead): their coins, or how many of `gift_code`."""
    if not caller.has("creator"):
        raise problems.Forbidden("only creators set goals")
    if not now < body.deadline <= now + MAX_AHEAD:
        raise DeadlineOutOfRange(f"deadline {body.deadline.isoformat()} is not in the next 7 days")
    gift_code = body.goal.gift_code if isinstance(body.goal, GiftsTarget) else None
    if gift_code is not None and gift_code not in load_catalog().raw["gifts"]:
        raise GiftNotFound(f"no gift {gift_code!r}")
    wanted = (caller.user_id, body.stream_id, body.goal.metric, gift_code, body.goal.target)
    async with pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            "INSERT INTO goals (goal_id, creator_id, stream_id, metric, gift_code, target,"
            " deadline) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
            " RETURNING true",
            goal_id,
            *wanted,
            body.deadline,
        )
        row = await conn.fetchrow(_READ, goal_id)
        if not fresh:
            have = (row["creator_id"], row["stream_id"], row["metric"], row["gift_code"])
            if have + (row["target"],) != wanted or row["deadline"] != body.deadline:
                raise GoalExists(f"goal {goal_id} exists with other terms")
            return goal_public(row)
        await append(
            conn,
            topics.GIFTING_EVENTS,
            new_envelope(
                SOURCE,
                GoalSet(
                    goal_id=goal_id,
                    creator_id=caller.user_id,
                    stream_id=body.stream_id,
                    metric=body.goal.metric,
                    gift_code=gift_code,
                    target=body.goal.target,
                    deadline=body.deadline,
                ),
                aggregate_id=f"goal-{goal_id}",
                aggregate_version=1,
                subject=caller.user_id,
            ),
        )
        return goal_public(row)


@router.get(
    "/goals/{goal_id}",
    summary="A LIVE goal and its progress as gifting counts it",
    responses=problems.problem_responses(problems.Unauthorized, GoalNotFound),
)
async def get_goal(goal_id: GoalId, caller: CallerDep, pool: PoolDep) -> GoalPublic:
    row = await pool.fetchrow(_READ, goal_id)
    if row is None:
        raise GoalNotFound(f"no goal {goal_id}")
    return goal_public(row)
