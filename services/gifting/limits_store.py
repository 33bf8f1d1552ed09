"""The SQL of spending controls: the controls rows, the spend windows, and the guard every
spend batch reads for its spenders.

The guard is one statement per batch, run after the batch holds its spenders' wallet locks:
its snapshot then includes every spend (and its window totals, written by spend_store.write
in the same statement as the debit) that a batch holding those wallets before committed. So
concurrent spends of one user are checked one after another against the totals each left,
and can never pass a limit together.
"""

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from eventkit.auth import Caller
from policy.spending import load_spending_policy
from services.gifting.limits_decide import (
    PERIODS,
    Controls,
    Guard,
    Period,
    Setting,
    Window,
)
from services.gifting.spend_decide import Command, Wallet
from services.gifting.spend_store import bound

_CONTROL_COLUMNS = ", ".join(
    [f"c.{p}_coins, c.{p}_pending, c.{p}_pending_from" for p in PERIODS]
    + ["c.excluded_until, c.excluded_pending, c.excluded_pending_from, c.version"]
)

# The window starts by the transaction's clock: the same now() spend_store.write counts with.
WINDOW_STARTS = """date_trunc('day', now(), 'UTC') AS day_start,
       date_trunc('week', now(), 'UTC') AS week_start,
       date_trunc('month', now(), 'UTC') AS month_start"""

_SPENT = (
    "COALESCE((SELECT coins FROM spend_windows s WHERE s.user_id = u.user_id"
    " AND s.period = '{p}' AND s.starts_at = t.{p}_start), 0) AS {p}_spent"
)

_GUARDS = f"""
WITH t AS (SELECT {WINDOW_STARTS})
SELECT u.user_id, t.*, c.user_id IS NOT NULL AS has_controls, {_CONTROL_COLUMNS},
       {", ".join(_SPENT.format(p=p) for p in PERIODS)}
FROM unnest(:users::text[]) AS u (user_id) CROSS JOIN t
LEFT JOIN spending_controls c ON c.user_id = u.user_id
"""


def controls_of(row: asyncpg.Record) -> Controls:
    """The controls of a row with _CONTROL_COLUMNS (none: NO_CONTROLS' defaults)."""
    if row["version"] is None:
        return Controls()
    return Controls(
        {
            p: Setting(row[f"{p}_coins"], row[f"{p}_pending"], row[f"{p}_pending_from"])
            for p in PERIODS
        },
        Setting(row["excluded_until"], row["excluded_pending"], row["excluded_pending_from"]),
        row["version"],
    )


def windows_of(row: asyncpg.Record) -> dict[Period, Window]:
    return {p: Window(p, row[f"{p}_start"], row[f"{p}_spent"]) for p in PERIODS}


async def guarded(
    conn: asyncpg.Connection, wallets: dict[str, Wallet], commands: Sequence[Command], kind: str
) -> dict[str, Wallet]:
    """`wallets` (locked by the caller) with the guard of each owner's spends of `kind`: their
    controls and age band judged at the arrival of their latest command in the batch (commands
    of one batch arrive within milliseconds), and their spend so far in each window."""
    if not wallets:
        return wallets
    callers: dict[str, Caller] = {}
    at: dict[str, datetime] = {}
    for c in commands:
        user = c.caller.user_id
        callers[user] = c.caller
        received = c.received_at
        at[user] = max(at.get(user, received), received)
    rows = await conn.fetch(*bound(_GUARDS, users=sorted(wallets)))
    policy = load_spending_policy()
    out = dict(wallets)
    for row in rows:
        user = row["user_id"]
        caller, when = callers.get(user), at.get(user)
        if caller is None or when is None:
            continue
        band = policy.band_of(caller.country, caller.birthdate, when)
        out[user] = Wallet(
            wallets[user].balance,
            wallets[user].version,
            Guard(kind, when, controls_of(row), band, windows_of(row)),
        )
    return out


# One user's controls (the PUT and GET of spending_limits.py) ---------------------------------

_READ = f"""
WITH t AS (SELECT {WINDOW_STARTS})
SELECT t.*, {_CONTROL_COLUMNS},
       {", ".join(_SPENT.format(p=p) for p in PERIODS)}
FROM (SELECT $1::text AS user_id) u CROSS JOIN t
LEFT JOIN spending_controls c ON c.user_id = u.user_id
"""

# A user's first change makes the row (version 0, no controls), so there is a row to lock: a
# concurrent first change waits on the insert, then locks the row once it is committed.
_MAKE = "INSERT INTO spending_controls (user_id, version) VALUES ($1, 0) ON CONFLICT DO NOTHING"
_LOCK = "SELECT 1 FROM spending_controls WHERE user_id = $1 FOR UPDATE"

_SAVE = """
INSERT INTO spending_controls AS c (user_id, day_coins, day_pending, day_pending_from,
    week_coins, week_pending, week_pending_from, month_coins, month_pending, month_pending_from,
    excluded_until, excluded_pending, excluded_pending_from, version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (user_id) DO UPDATE SET day_coins = $2, day_pending = $3, day_pending_from = $4,
    week_coins = $5, week_pending = $6, week_pending_from = $7, month_coins = $8,
    month_pending = $9, month_pending_from = $10, excluded_until = $11, excluded_pending = $12,
    excluded_pending_from = $13, version = $14, updated_at = now()
WHERE c.version = $14 - 1
RETURNING version
"""


async def read(
    conn: asyncpg.Connection, user_id: str, lock: bool = False
) -> tuple[Controls, dict[Period, Window]]:
    """A user's controls and their current windows; `lock`: held until the transaction ends,
    so two changes of one user are decided one after the other."""
    if lock:
        await conn.execute(_MAKE, user_id)
        await conn.execute(_LOCK, user_id)
    row = await conn.fetchrow(_READ, user_id)
    return controls_of(row), windows_of(row)


async def save(conn: asyncpg.Connection, user_id: str, controls: Controls) -> bool:
    """Writes `controls` (version: the one read + 1); False when another change won first."""
    args: list = [user_id]
    for p in PERIODS:
        s = controls.limit(p)
        args += [s.value, s.pending, s.pending_from]
    e = controls.exclusion
    args += [e.value, e.pending, e.pending_from, controls.version]
    return await conn.fetchval(_SAVE, *args) is not None


# One spend outside the batches (spending.debit: subscriptions, tickets, ...) ------------------

_LOCK_WALLET = "SELECT 1 FROM wallets WHERE user_id = $1 FOR UPDATE"
_PROFILE = "SELECT country, birthdate FROM profiles WHERE user_id = $1"
_COUNT = """
INSERT INTO spend_windows AS sw (user_id, period, starts_at, coins)
SELECT $1, p.period, date_trunc(p.period, now(), 'UTC'), $2::bigint
FROM (VALUES ('day'), ('week'), ('month')) AS p (period)
ON CONFLICT (user_id, period, starts_at) DO UPDATE SET coins = sw.coins + EXCLUDED.coins
"""


async def check_one(conn: asyncpg.Connection, user_id: str, coins: int, kind: str) -> None:
    """Raises the refusal of one spend of `coins` by the controls, judged by the transaction's
    clock and the spender's stored profile, with the wallet locked first (so the totals read
    include every spend committed before), as a batch does."""
    await conn.execute(_LOCK_WALLET, user_id)
    row = await conn.fetchrow(*bound(_GUARDS, users=[user_id]))
    at = await conn.fetchval("SELECT now()")
    profile = await conn.fetchrow(_PROFILE, user_id)
    band = (
        load_spending_policy().band_of(profile["country"], profile["birthdate"], at)
        if profile
        else None
    )
    refusal = Guard(kind, at, controls_of(row), band, windows_of(row)).refusal(coins)
    if refusal:
        raise refusal


async def count_one(conn: asyncpg.Connection, user_id: str, coins: int) -> None:
    """Adds one spend to its user's windows (spend_store.write does it for a batch)."""
    await conn.execute(_COUNT, user_id, coins)
