"""The copy of the transaction bans every enforcing service keeps (gifting, payout), from the
sanctions topic: one table shape (`bans`: ban_id, user_id, scopes, expires_at, lifted_at), one
way to apply placements and lifts in whatever order they arrive, one test of "active".

A lift may arrive before its placement (they can travel on different partitions): it is kept as
a lifted row, and the late placement fills in the scopes but cannot revive it.
"""

from datetime import datetime

import asyncpg

from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced


async def place(conn: asyncpg.Connection, ban: TransactionBanPlaced) -> None:
    await conn.execute(
        "INSERT INTO bans (ban_id, user_id, scopes, expires_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (ban_id) DO UPDATE SET user_id = EXCLUDED.user_id,"
        " scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at",
        ban.ban_id,
        ban.user_id,
        list(ban.scopes),
        ban.expires_at,
    )


async def lift(conn: asyncpg.Connection, lifted: TransactionBanLifted, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO bans (ban_id, user_id, lifted_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (ban_id) DO UPDATE SET lifted_at = EXCLUDED.lifted_at",
        lifted.ban_id,
        lifted.user_id,
        at,
    )


def active(user: str, scope: str | None = None, now: str = "now()") -> str:
    """SQL condition on `bans`: the row is an active (not lifted, not expired) ban of `user`,
    covering `scope` or the whole account when a scope is given. The arguments are SQL
    expressions: a placeholder, a quoted literal, or ANY(an array) for `user`."""
    live = f"user_id = {user} AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > {now})"
    return live if scope is None else f"{live} AND scopes && ARRAY[{scope}, 'account']"
