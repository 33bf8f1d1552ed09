"""Fan levels in gifting's own table (fan_points): kept up to date by the gift batch (read the
pairs its gifts touch, fold in their coins with fan_levels, one upsert), and read by the gift
route for gifts that need a level (catalog.json `min_fan_level`).

The batch holds its fans' wallet locks while it reads and writes their rows, so two batches
never fold the same pair at once; the gift's own event (its time, its recipients' parts) is
what is folded, so the projections, folding the same events, agree.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from schemas.envelope import Envelope
from services.gifting import fan_levels
from services.gifting.catalog import load_catalog
from services.gifting.fan_levels import FanPoints
from services.gifting.live_events_errors import FanLevelTooLow

_READ = """
SELECT f.fan_id, f.creator_id, f.points, f.last_day FROM fan_points f
JOIN unnest($1::text[], $2::text[]) AS k (fan_id, creator_id) USING (fan_id, creator_id)
"""
_WRITE = """
INSERT INTO fan_points AS f (fan_id, creator_id, points, last_day)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::date[]) ORDER BY 1, 2
ON CONFLICT (fan_id, creator_id) DO UPDATE SET points = EXCLUDED.points,
    last_day = EXCLUDED.last_day
"""


def gifted_days(events: Sequence[Envelope]) -> dict[tuple[str, str], list[tuple[date, int]]]:
    """Each (fan, creator) pair's coins by day in these GiftSent events."""
    days: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)
    for e in events:
        if e.type != "GiftSent":
            continue
        for creator, coins in fan_levels.gift_parts(e.data):
            if coins > 0:
                days[(e.data["sender_id"], creator)].append((fan_levels.day_of(e.time), coins))
    return days


async def record(conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
    """Folds a batch's accepted gifts (their events) into fan_points: one read, one upsert."""
    days = gifted_days(events)
    if not days:
        return
    pairs = sorted(days)
    known = {
        (r["fan_id"], r["creator_id"]): FanPoints(r["points"], r["last_day"])
        for r in await conn.fetch(_READ, [f for f, _ in pairs], [c for _, c in pairs])
    }
    states = [fan_levels.fold(days[p], known.get(p)) or FanPoints(0, date.min) for p in pairs]
    await conn.execute(
        _WRITE,
        [f for f, _ in pairs],
        [c for _, c in pairs],
        [s.points for s in states],
        [s.last_day for s in states],
    )


async def state(conn, fan_id: str, creator_id: str) -> FanPoints | None:
    row = await conn.fetchrow(
        "SELECT points, last_day FROM fan_points WHERE fan_id = $1 AND creator_id = $2",
        fan_id,
        creator_id,
    )
    return FanPoints(row["points"], row["last_day"]) if row else None


async def gate(
    pool: asyncpg.Pool,
    fan_id: str,
    creator_id: str | None,
    room_id: str | None,
    gift_code: str,
    now: datetime,
) -> None:
    """Refuses (403 fan-level-too-low) a gift that needs a fan level the fan does not have
    with its creator (a room's host for a room gift), on the points committed before it. Reads
    nothing for a gift any fan may send."""
    needed = load_catalog().min_fan_level(gift_code)
    if not needed:
        return
    row = await pool.fetchrow(
        "SELECT points, last_day FROM fan_points WHERE fan_id = $1"
        " AND creator_id = coalesce($2, (SELECT host_id FROM rooms WHERE room_id = $3))",
        fan_id,
        creator_id,
        room_id,
    )
    have = fan_levels.level_on(
        FanPoints(row["points"], row["last_day"]) if row else None, fan_levels.day_of(now)
    )
    if have < needed:
        raise FanLevelTooLow(
            f"{gift_code} needs fan level {needed} with this creator; yours is {have}",
            level_needed=needed,
            level=have,
        )
