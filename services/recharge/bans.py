"""Transaction bans, owned here: placed and lifted by admins, by the moderation topic and by
fraud chargebacks, each announced on the sanctions topic for every service to enforce.

Stream `ban-<ban_id>`: v1 TransactionBanPlaced, v2 TransactionBanLifted (same Kafka key, so a
consumer never sees the lift first). A lift that reaches us before its placement (moderation
commands may be reordered) leaves a lifted row, and the late placement then does nothing.
"""

from datetime import datetime

import asyncpg

from eventkit.streams import EventStreams
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.sanctions import (
    BanScope,
    BanSource,
    LiftSource,
    TransactionBanLifted,
    TransactionBanPlaced,
)

SOURCE = "/coinstream/recharge"
COLUMNS = "ban_id, user_id, scopes, reason, source, expires_at, placed_at, lifted_at"
# A ban's events are about the banned user: `BANS.emit(conn, ban_id, version, payload, user_id)`.
BANS = EventStreams(source=SOURCE, topic=topics.SANCTIONS_EVENTS, prefix="ban")


async def place(
    conn: asyncpg.Connection,
    ban_id: str,
    user_id: str,
    scopes: list[BanScope],
    reason: str,
    source: BanSource,
    expires_at: datetime | None,
    cause: Envelope | None = None,
) -> Envelope | None:
    """Places the ban once (TransactionBanPlaced); None when the id is already known."""
    fresh = await conn.fetchval(
        "INSERT INTO bans (ban_id, user_id, scopes, reason, source, expires_at, placed_at,"
        " version) VALUES ($1, $2, $3, $4, $5, $6, now(), 1) ON CONFLICT (ban_id) DO NOTHING"
        " RETURNING true",
        ban_id,
        user_id,
        scopes,
        reason,
        source,
        expires_at,
    )
    if not fresh:
        return None
    return await BANS.emit(
        conn,
        ban_id,
        1,
        TransactionBanPlaced(
            ban_id=ban_id,
            user_id=user_id,
            scopes=scopes,
            reason=reason,
            source=source,
            expires_at=expires_at,
        ),
        user_id,
        cause=cause,
    )


async def lift(
    conn: asyncpg.Connection,
    ban_id: str,
    user_id: str,
    reason: str,
    source: LiftSource,
    cause: Envelope | None = None,
) -> Envelope | None:
    """Lifts a placed ban once (TransactionBanLifted); None when it is unknown or already
    lifted. An unknown one is remembered as lifted, so a late placement stays lifted."""
    row = await conn.fetchrow(
        "UPDATE bans SET lifted_at = now(), version = 2 WHERE ban_id = $1"
        " AND lifted_at IS NULL RETURNING user_id",
        ban_id,
    )
    if row is None:
        await conn.execute(
            "INSERT INTO bans (ban_id, user_id, reason, source, lifted_at) VALUES"
            " ($1, $2, $3, $4, now()) ON CONFLICT (ban_id) DO NOTHING",
            ban_id,
            user_id,
            reason,
            source,
        )
        return None
    return await BANS.emit(
        conn,
        ban_id,
        2,
        TransactionBanLifted(ban_id=ban_id, user_id=row["user_id"], reason=reason, source=source),
        row["user_id"],
        cause=cause,
    )


async def active(
    conn: asyncpg.Connection, user_id: str, scope: str, now: datetime
) -> asyncpg.Record | None:
    """The first active ban covering `scope` or the whole account, if any."""
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM bans WHERE user_id = $1 AND placed_at IS NOT NULL"
        " AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > $3)"
        " AND scopes && ARRAY[$2, 'account'] ORDER BY placed_at LIMIT 1",
        user_id,
        scope,
        now,
    )


async def get(conn, ban_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM bans WHERE ban_id = $1", ban_id)


async def of_user(conn, user_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM bans WHERE user_id = $1"
        " AND placed_at IS NOT NULL ORDER BY placed_at DESC",
        user_id,
    )
