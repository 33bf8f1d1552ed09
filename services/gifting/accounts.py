"""What gifting knows about accounts: profiles and transaction bans, in PostgreSQL."""

from datetime import date

import asyncpg

from eventkit import bans
from eventkit.auth import Caller
from services.gifting.rules import Profile


async def remember_caller(conn: asyncpg.Connection, caller: Caller) -> None:
    """Keeps the caller's verified claims as their profile (written only when they changed), so
    a creator who has signed in once can be a gift's recipient."""
    await upsert_profile(
        conn, caller.user_id, caller.country, caller.birthdate, caller.account_type
    )


async def upsert_profile(
    conn: asyncpg.Connection,
    user_id: str,
    country: str | None,
    birthdate: date | None,
    account_type: str,
) -> None:
    await conn.execute(
        "INSERT INTO profiles AS p (user_id, country, birthdate, account_type)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET country = $2,"
        " birthdate = $3, account_type = $4, updated_at = now()"
        " WHERE (p.country, p.birthdate, p.account_type) IS DISTINCT FROM ($2, $3, $4)",
        user_id,
        country,
        birthdate,
        account_type,
    )


async def profile(conn: asyncpg.Connection, user_id: str) -> Profile | None:
    row = await conn.fetchrow(
        "SELECT country, birthdate, account_type FROM profiles WHERE user_id = $1", user_id
    )
    return Profile(row["country"], row["birthdate"], row["account_type"]) if row else None


def banned_sql(user_id: str, scope: str) -> str:
    """SQL for: an active ban of `user_id` covering `scope` or the whole account (SQL
    expressions: placeholders or quoted literals)."""
    return f"EXISTS (SELECT 1 FROM bans WHERE {bans.active(user_id, scope)})"


async def banned(conn: asyncpg.Connection, user_id: str, scope: str) -> bool:
    return await conn.fetchval(f"SELECT {banned_sql('$1', '$2')}", user_id, scope)
