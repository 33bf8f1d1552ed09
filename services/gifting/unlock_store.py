"""The SQL of an unlock batch: the statements of its kind (read items, their owners and the
pairs already unlocked; write the unlock rows); the steps every spend shares are spend_store's,
with its lock order: keys, then profiles, then wallets.

An unlock's (user, item) row is read and written only while the user's wallet is locked, so
two batches can never both unlock one pair: the second reads the first's row once it commits.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from eventkit import tracing
from schemas.envelope import Envelope
from services.gifting import accounts, limits_store, lots_store
from services.gifting.rules import Profile
from services.gifting.spend_decide import Draw, Wallet
from services.gifting.spend_store import (
    LOCK_WALLETS,
    WALLET_COLUMNS,
    Answer,
    Spend,
    active_ban,
    bound,
    columns,
    wallets_of,
)
from services.gifting.spend_store import write as write_spends
from services.gifting.unlock_decide import Item, UnlockCommand, Unlocked, UnlockRows

# The wallets are locked (in user order) and read at their latest committed state; items,
# owners and bans are read as of the statement's start, as one unlock alone read them.
# now() is the transaction's clock, the created_at of the unlock rows this batch writes.
_LOCK_AND_READ = f"""
WITH {LOCK_WALLETS},
i AS (SELECT i.item_id, i.owner_id, i.coins, p.user_id IS NOT NULL AS owner_known,
             p.country, p.birthdate, p.account_type,
             {accounts.banned_sql("i.owner_id", "'receive'")} AS owner_banned
      FROM items i LEFT JOIN profiles p ON p.user_id = i.owner_id
      WHERE i.item_id = ANY(:items::text[]))
SELECT {WALLET_COLUMNS},
       ({active_ban(":spenders", "gift")}) AS banned_from_gift,
       now() AS now,
       (SELECT array_agg(item_id ORDER BY item_id) FROM i) AS item_ids,
       (SELECT array_agg(owner_id ORDER BY item_id) FROM i) AS owners,
       (SELECT array_agg(coins ORDER BY item_id) FROM i) AS prices,
       (SELECT array_agg(owner_known ORDER BY item_id) FROM i) AS owners_known,
       (SELECT array_agg(country ORDER BY item_id) FROM i) AS countries,
       (SELECT array_agg(birthdate ORDER BY item_id) FROM i) AS birthdates,
       (SELECT array_agg(account_type ORDER BY item_id) FROM i) AS types,
       (SELECT array_agg(owner_banned ORDER BY item_id) FROM i) AS owners_banned
"""

# A statement of its own, after the wallet locks are held: its snapshot then includes every
# unlock a batch that held those wallets before committed.
_UNLOCKED = """
SELECT u.user_id, u.item_id, u.unlock_id, u.coins, u.balance_after, u.created_at FROM unlocks u
JOIN unnest(:users::text[], :items::text[]) AS k (user_id, item_id) USING (user_id, item_id)
"""

# The unlock rows, as a CTE of spend_store's write statement (created_at: now()).
_UNLOCKS_WRITE = """,
unlock AS (
    INSERT INTO unlocks (user_id, item_id, unlock_id, event_id, coins, balance_after)
    SELECT * FROM unnest(:unlock_users::text[], :unlock_items::text[], :unlock_ids::uuid[],
                         :unlock_event_ids::uuid[], :unlock_coins::bigint[],
                         :unlock_balances::bigint[])
    ORDER BY 1, 2)
"""


@dataclass(frozen=True)
class UnlockRecord:
    """One accepted unlock as it is written: its row, its event, the answer for its key."""

    command: UnlockCommand
    unlock: Unlocked
    wallet_version: int
    event: Envelope
    response: dict
    draws: tuple[Draw, ...] = ()  # what it took from bonus lots


async def lock_and_read(
    conn: asyncpg.Connection, commands: Sequence[UnlockCommand], fresh: frozenset
) -> UnlockRows:
    row = await conn.fetchrow(
        *bound(
            _LOCK_AND_READ,
            spenders=sorted({c.caller.user_id for c in commands}),
            items=sorted({c.item_id for c in commands}),
        )
    )
    items = {
        item_id: Item(owner, coins, Profile(country, birthdate, kind) if known else None, banned)
        for item_id, owner, coins, known, country, birthdate, kind, banned in zip(
            *(
                row[name] or []
                for name in (
                    "item_ids",
                    "owners",
                    "prices",
                    "owners_known",
                    "countries",
                    "birthdates",
                    "types",
                    "owners_banned",
                )
            ),
            strict=True,
        )
    }
    pairs = sorted({c.pair for c in commands if c.claim in fresh and c.item_id in items})
    unlocked = {}
    if pairs:
        for r in await conn.fetch(*bound(_UNLOCKED, **columns(pairs, "users", "items"))):
            unlocked[(r["user_id"], r["item_id"])] = Unlocked(
                r["unlock_id"], r["coins"], r["balance_after"], r["created_at"]
            )
    return UnlockRows(
        fresh=fresh,
        items=items,
        unlocked=unlocked,
        wallets=await lots_store.with_lots(
            conn,
            read := wallets_of(row),
            await limits_store.guarded(conn, read, commands, "unlock"),
        ),
        banned_from_gift=frozenset(row["banned_from_gift"] or []),
        now=row["now"],
    )


async def write(
    conn: asyncpg.Connection,
    topic: str,
    records: Sequence[UnlockRecord],
    answers: Sequence[Answer],
    refused: Sequence[tuple[str, str]],
    wallets: dict[str, Wallet],
) -> None:
    """`answers`: those of the accepted unlocks and of the keys answered with an earlier
    unlock of their pair (no spend)."""
    await write_spends(
        conn,
        topic,
        "unlock",
        [
            Spend(
                r.command.caller.user_id,
                r.unlock.coins,
                r.unlock.balance_after,
                r.wallet_version,
                r.event,
                tracing.traceparent_for(r.command.claim),
                r.draws,
            )
            for r in records
        ],
        answers,
        refused,
        wallets,
        _UNLOCKS_WRITE,
        **columns(
            (
                (
                    *r.command.pair,
                    r.unlock.unlock_id,
                    r.event.id,
                    r.unlock.coins,
                    r.unlock.balance_after,
                )
                for r in records
            ),
            "unlock_users",
            "unlock_items",
            "unlock_ids",
            "unlock_event_ids",
            "unlock_coins",
            "unlock_balances",
        ),
    )
