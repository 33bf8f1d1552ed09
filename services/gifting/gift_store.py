"""The SQL of a gift batch: the statements of its kind (read recipients and combos, write
combos); the steps every spend shares (keys, callers, wallets, the write) are spend_store's,
with its lock order: keys, then profiles, then wallets.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from eventkit import tracing
from schemas.envelope import Envelope
from services.gifting import limits_store, lots_store
from services.gifting.gift_decide import BatchRows, Combo, GiftCommand
from services.gifting.rooms import read_rooms
from services.gifting.rooms_decide import every_recipient
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

# The wallets are locked (in user order) and read at their latest committed state; profiles
# and bans are read as of the statement's start, as a single gift does.
_LOCK_AND_READ = f"""
WITH {LOCK_WALLETS},
p AS (SELECT user_id, country, birthdate, account_type FROM profiles
      WHERE user_id = ANY(:recipients::text[]))
SELECT {WALLET_COLUMNS},
       ({active_ban(":spenders", "gift")}) AS banned_from_gift,
       ({active_ban(":recipients", "receive")}) AS banned_from_receive,
       (SELECT array_agg(user_id ORDER BY user_id) FROM p) AS profile_users,
       (SELECT array_agg(country ORDER BY user_id) FROM p) AS countries,
       (SELECT array_agg(birthdate ORDER BY user_id) FROM p) AS birthdates,
       (SELECT array_agg(account_type ORDER BY user_id) FROM p) AS types
"""

# A statement of its own, after the wallet locks are held: its snapshot then includes every
# combo a batch that held those wallets before committed.
_COMBOS = """
SELECT c.sender_id, c.creator_id, c.context_kind, c.context_id, c.gift_code, c.combo_id, c.count,
       c.last_at
FROM combos c
JOIN unnest(:senders::text[], :creators::text[], :kinds::text[], :contexts::text[],
            :gift_codes::text[])
     AS k (sender_id, creator_id, context_kind, context_id, gift_code)
  USING (sender_id, creator_id, context_kind, context_id, gift_code)
"""

# The combos the batch touched, as a CTE of spend_store's write statement.
_COMBOS_WRITE = """,
combo AS (
    INSERT INTO combos AS c (sender_id, creator_id, context_kind, context_id, gift_code,
                             combo_id, count, last_at)
    SELECT * FROM unnest(:combo_senders::text[], :combo_creators::text[], :combo_kinds::text[],
                         :combo_contexts::text[], :combo_gift_codes::text[], :combo_ids::uuid[],
                         :combo_counts::integer[], :combo_last_at::timestamptz[])
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (sender_id, creator_id, context_kind, context_id, gift_code) DO UPDATE SET
        combo_id = EXCLUDED.combo_id, count = EXCLUDED.count, last_at = EXCLUDED.last_at)
"""


@dataclass(frozen=True)
class GiftRecord:
    """One accepted gift as it is written: its event and the response stored for its key."""

    command: GiftCommand
    coins: int
    balance_after: int
    wallet_version: int
    event: Envelope
    response: dict
    draws: tuple[Draw, ...] = ()  # what it took from bonus lots


async def lock_and_read(
    conn: asyncpg.Connection, commands: Sequence[GiftCommand], fresh: frozenset
) -> BatchRows:
    # The rooms first (no lock: the shares in force as this batch starts), so the one read of
    # profiles and bans below covers every recipient of every room.
    rooms = await read_rooms(conn, sorted({c.room_id for c in commands if c.room_id}))
    recipients = every_recipient(
        [c.creator_id for c in commands], [c.room_id for c in commands], rooms
    )
    row = await conn.fetchrow(
        *bound(
            _LOCK_AND_READ,
            spenders=sorted({c.caller.user_id for c in commands}),
            recipients=recipients,
        )
    )
    profiles = {
        u: Profile(c, b, t)
        for u, c, b, t in zip(
            row["profile_users"] or [],
            row["countries"] or [],
            row["birthdates"] or [],
            row["types"] or [],
            strict=True,
        )
    }
    for c in commands:  # a caller of this batch is known as its token says, as after _REMEMBER
        profiles[c.caller.user_id] = Profile(
            c.caller.country, c.caller.birthdate, c.caller.account_type
        )
    keys = sorted({c.combo_key for c in commands if c.claim in fresh})
    combos = {}
    if keys:
        for r in await conn.fetch(
            *bound(
                _COMBOS, **columns(keys, "senders", "creators", "kinds", "contexts", "gift_codes")
            )
        ):
            combos[
                (
                    r["sender_id"],
                    r["creator_id"],
                    r["context_kind"],
                    r["context_id"],
                    r["gift_code"],
                )
            ] = Combo(r["combo_id"], r["count"], r["last_at"])
    return BatchRows(
        fresh=fresh,
        wallets=await lots_store.with_lots(
            conn, read := wallets_of(row), await limits_store.guarded(conn, read, commands, "gift")
        ),
        profiles=profiles,
        banned_from_gift=frozenset(row["banned_from_gift"] or []),
        banned_from_receive=frozenset(row["banned_from_receive"] or []),
        combos=combos,
        rooms=rooms,
    )


async def write(
    conn: asyncpg.Connection,
    topic: str,
    records: Sequence[GiftRecord],
    refused: Sequence[tuple[str, str]],
    wallets: dict[str, Wallet],
    combos: dict[tuple, Combo],
) -> None:
    await write_spends(
        conn,
        topic,
        "gift",
        [
            Spend(
                r.command.caller.user_id,
                r.coins,
                r.balance_after,
                r.wallet_version,
                r.event,
                tracing.traceparent_for(r.command.claim),
                r.draws,
            )
            for r in records
        ],
        [Answer(*r.command.claim, 201, r.response) for r in records],
        refused,
        wallets,
        _COMBOS_WRITE,
        **columns(
            (k + (c.combo_id, c.count, c.last_at) for k, c in sorted(combos.items())),
            "combo_senders",
            "combo_creators",
            "combo_kinds",
            "combo_contexts",
            "combo_gift_codes",
            "combo_ids",
            "combo_counts",
            "combo_last_at",
        ),
    )
