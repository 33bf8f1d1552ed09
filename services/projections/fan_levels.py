"""Read model of fan levels: each (fan, creator) pair's gifted coins per UTC day, folded from
the gifts on the gifting topic (sums: a rebuild equals live). A level is not stored: it is
services.gifting.fan_levels folded over these days for the day asked about, the same function
gifting folds its own fan_points with, so the two agree."""

from datetime import date
from typing import TYPE_CHECKING

import asyncpg

from schemas.events.gifting import GiftSentV2
from services.gifting import fan_levels
from services.gifting.fan_levels import FanPoints
from services.projections.upsert import MAX, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

FAN_DAYS = Table(
    "fan_gift_days",
    (Column("fan_id", "text"), Column("creator_id", "text"), Column("day", "date")),
    (
        Column("gifts", "bigint"),
        Column("coins", "bigint"),
        Column("last_event_time", "timestamptz", MAX),
    ),
)
TABLES = (FAN_DAYS,)


def fold_fan_days(facts: "list[Fact]") -> list[Rows]:
    rows = FAN_DAYS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        if not isinstance(p, GiftSentV2):
            continue
        day = fan_levels.day_of(t)
        for share in p.split():
            if share.coins > 0:
                rows.add(
                    (p.sender_id, share.creator_id, day),
                    gifts=1,
                    coins=share.coins,
                    last_event_time=t,
                )
    return [rows]


async def fan_state(conn: asyncpg.Connection, fan_id: str, creator_id: str) -> FanPoints | None:
    """The pair's state as gifting keeps it, from the projected days."""
    rows = await conn.fetch(
        "SELECT day, coins FROM fan_gift_days WHERE fan_id = $1 AND creator_id = $2",
        fan_id,
        creator_id,
    )
    return fan_levels.fold((r["day"], r["coins"]) for r in rows)


async def fan_level(conn: asyncpg.Connection, fan_id: str, creator_id: str, day: date) -> int:
    return fan_levels.level_on(await fan_state(conn, fan_id, creator_id), day)
