"""Read model of LIVE goals (docs/multi-guest.md): `live_goals`, one row per goal, from GoalSet
(its terms), GoalProgressed (gifting's running total: the highest wins, in any order) and
GoalReached (when, and by which gift)."""

from typing import TYPE_CHECKING

from schemas.events.rooms import GoalProgressed, GoalReached, GoalSet
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

LIVE_GOALS = Table(
    "live_goals",
    (Column("goal_id", "text"),),
    (
        Column("creator_id", "text", MAX),
        Column("stream_id", "text", MAX),
        Column("metric", "text", MAX),
        Column("gift_code", "text", MAX),
        Column("target", "bigint", MAX),
        Column("deadline", "timestamptz", MAX),
        Column("progress", "bigint", MAX),
        Column("reached_at", "timestamptz", MIN),
        Column("reached_by_gift", "text", MAX),
        Column("last_event_time", "timestamptz", MAX),
    ),
)
TABLES = (LIVE_GOALS,)


def fold_goals(facts: "list[Fact]") -> list[Rows]:
    rows = LIVE_GOALS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case GoalSet():
                rows.add(
                    (p.goal_id,),
                    creator_id=p.creator_id,
                    stream_id=p.stream_id,
                    metric=p.metric,
                    gift_code=p.gift_code,
                    target=p.target,
                    deadline=p.deadline,
                    progress=0,
                    last_event_time=t,
                )
            case GoalProgressed():
                rows.add(
                    (p.goal_id,),
                    creator_id=p.creator_id,
                    stream_id=p.stream_id,
                    target=p.target,
                    progress=p.progress,
                    last_event_time=t,
                )
            case GoalReached():
                rows.add(
                    (p.goal_id,),
                    creator_id=p.creator_id,
                    stream_id=p.stream_id,
                    target=p.target,
                    progress=p.progress,
                    reached_at=t,
                    reached_by_gift=p.gift_id,
                    last_event_time=t,
                )
    return [rows]
