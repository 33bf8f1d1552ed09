"""The wallet ledger in PostgreSQL: credits, clawbacks, and spends that can never overdraw."""

from uuid import UUID

import asyncpg

from eventkit.db import Statement


async def credit(
    conn: asyncpg.Connection, user_id: str, coins: int, event_id: UUID, kind: str, bonus: int = 0
) -> int:
    """Adds coins (a negative amount for a clawback, which may take the balance below zero);
    `bonus`: those of them in a bonus lot (lots_store.grant), the rest purchased. A clawback
    takes purchased coins only: its purchased part may go below zero, its lots stay."""
    balance = await conn.fetchval(
        "INSERT INTO wallets (user_id, balance, version, bonus) VALUES ($1, $2, 1, $3)"
        " ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + EXCLUDED.balance,"
        " bonus = wallets.bonus + EXCLUDED.bonus, version = wallets.version + 1,"
        " updated_at = now() RETURNING balance",
        user_id,
        coins,
        bonus,
    )
    await _record(conn, user_id, event_id, kind, coins, balance)
    return balance


async def spend(conn: asyncpg.Connection, user_id: str, coins: int) -> tuple[int, int] | None:
    """Debits atomically when the purchased part covers it; returns (balance, version) or None.

    The condition sits in the UPDATE itself: concurrent spends serialise on the row lock and
    each re-checks the balance it finds, so two spends can never both pass on the same coins.
    A zero or negative purchased part (after a clawback) covers nothing. One spend outside the
    batches (subscriptions, tickets, partner debits) takes purchased coins only: bonus lots
    pay for gifts and unlocks (docs/bonus-lots.md), so these events need no bonus part.
    """
    row = await conn.fetchrow(
        "UPDATE wallets SET balance = balance - $2, version = version + 1, updated_at = now()"
        " WHERE user_id = $1 AND balance - bonus >= $2 RETURNING balance, version",
        user_id,
        coins,
    )
    return (row["balance"], row["version"]) if row else None


_ENTRY = (
    "INSERT INTO wallet_ledger (user_id, event_id, kind, delta, balance_after)"
    " VALUES ($1, $2, $3, $4, $5)"
)


async def record_spend(
    conn: asyncpg.Connection,
    user_id: str,
    event_id: UUID,
    kind: str,
    coins: int,
    balance_after: int,
) -> None:
    sql, args = spend_entry(user_id, event_id, kind, coins, balance_after)
    await conn.execute(sql, *args)


def spend_entry(
    user_id: str, event_id: UUID, kind: str, coins: int, balance_after: int
) -> Statement:
    """The ledger row of a spend, to be written with the spend's event (spending.record)."""
    return _ENTRY, (user_id, event_id, kind, -coins, balance_after)


async def _record(conn, user_id, event_id, kind, delta, balance_after) -> None:
    await conn.execute(_ENTRY, user_id, event_id, kind, delta, balance_after)


async def balance(conn: asyncpg.Connection, user_id: str) -> int:
    return await conn.fetchval("SELECT balance FROM wallets WHERE user_id = $1", user_id) or 0


async def statement(
    conn: asyncpg.Connection, user_id: str, limit: int, before: int | None
) -> list[asyncpg.Record]:
    """Newest first; `before` is the entry id of the last row of the previous page."""
    return await conn.fetch(
        "SELECT entry_id, event_id, kind, delta, balance_after, created_at FROM wallet_ledger"
        " WHERE user_id = $1 AND ($2::bigint IS NULL OR entry_id < $2)"
        " ORDER BY entry_id DESC LIMIT $3",
        user_id,
        before,
        limit,
    )
