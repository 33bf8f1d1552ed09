"""The SQL of a gift batch: set-based statements (one per step, `unnest` over arrays, with
:named parameters, one array per column), the same whatever the batch size.

Locks are taken in one global order, the same as every other spend's (an unlock, a single
gift): idempotency keys by (caller, key), then profiles by user id, then wallets by user id.
So two batches, or a batch and an unlock, can wait on each other but never deadlock.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg
import orjson

from eventkit import bans
from eventkit.codec import encode
from eventkit.db import named
from schemas.envelope import Envelope
from services.gifting.gift_decide import BatchRows, Combo, GiftCommand, Wallet
from services.gifting.rules import Profile


def _active_ban(users: str, scope: str) -> str:
    """The users of the array `users` with an active ban covering `scope` or the account."""
    return (
        "SELECT array_agg(DISTINCT user_id) FROM bans"
        f" WHERE {bans.active(f'ANY({users}::text[])', repr(scope))}"
    )


_CLAIM = """
INSERT INTO idempotency_keys (caller, key, request_hash)
SELECT * FROM unnest(:callers::text[], :keys::text[], :hashes::text[]) ORDER BY 1, 2
ON CONFLICT DO NOTHING RETURNING caller, key
"""

# The callers' verified claims become their profiles (so a creator who has signed in can
# receive); written only when they changed.
_REMEMBER = """
INSERT INTO profiles AS p (user_id, country, birthdate, account_type)
SELECT * FROM unnest(:users::text[], :countries::text[], :birthdates::date[], :types::text[])
ORDER BY 1
ON CONFLICT (user_id) DO UPDATE SET country = EXCLUDED.country, birthdate = EXCLUDED.birthdate,
    account_type = EXCLUDED.account_type, updated_at = now()
WHERE (p.country, p.birthdate, p.account_type)
      IS DISTINCT FROM (EXCLUDED.country, EXCLUDED.birthdate, EXCLUDED.account_type)
"""

# The wallets are locked (in user order) and read at their latest committed state; profiles
# and bans are read as of the statement's start, as a single gift does.
_LOCK_AND_READ = f"""
WITH w AS (SELECT user_id, balance, version FROM wallets WHERE user_id = ANY(:senders::text[])
           ORDER BY user_id FOR UPDATE),
p AS (SELECT user_id, country, birthdate, account_type FROM profiles
      WHERE user_id = ANY(:recipients::text[]))
SELECT (SELECT array_agg(user_id ORDER BY user_id) FROM w) AS wallet_users,
       (SELECT array_agg(balance ORDER BY user_id) FROM w) AS wallet_balances,
       (SELECT array_agg(version ORDER BY user_id) FROM w) AS wallet_versions,
       ({_active_ban(":senders", "gift")}) AS banned_from_gift,
       ({_active_ban(":recipients", "receive")}) AS banned_from_receive,
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

_REPLAYS = """
SELECT k.caller, k.key, k.request_hash, k.status_code, k.response FROM idempotency_keys k
JOIN unnest(:callers::text[], :keys::text[]) AS r (caller, key) USING (caller, key)
"""

# Everything the batch decided, in one statement. Rows keep arrival order (WITH ORDINALITY),
# so ledger entries and outbox rows of one wallet follow its versions.
_WRITE = """
WITH
wallet AS (
    UPDATE wallets w SET balance = v.balance, version = v.version, updated_at = now()
    FROM unnest(:wallet_users::text[], :wallet_balances::bigint[], :wallet_versions::integer[])
        AS v (user_id, balance, version)
    WHERE w.user_id = v.user_id),
gift AS (
    SELECT * FROM unnest(:event_ids::uuid[], :senders::text[], :coins::bigint[],
                         :balances_after::bigint[], :versions::integer[], :values::bytea[])
        WITH ORDINALITY AS g (event_id, user_id, coins, balance_after, version, value, n)),
ledger AS (
    INSERT INTO wallet_ledger (user_id, event_id, kind, delta, balance_after)
    SELECT user_id, event_id, 'gift', -coins, balance_after FROM gift ORDER BY n),
event AS (
    INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)
    SELECT event_id, 'wallet-' || user_id, version, :event_type, :data_version,
           convert_from(value, 'UTF8')::jsonb
    FROM gift ORDER BY n),
outbox AS (
    INSERT INTO outbox (event_id, topic, key, value)
    SELECT event_id, :topic, 'wallet-' || user_id, value FROM gift ORDER BY n),
saved AS (
    UPDATE idempotency_keys k SET status_code = 201, response = r.response::jsonb
    FROM unnest(:saved_callers::text[], :saved_keys::text[], :responses::text[])
        AS r (caller, key, response)
    WHERE k.caller = r.caller AND k.key = r.key),
refused AS (
    DELETE FROM idempotency_keys k
    USING unnest(:refused_callers::text[], :refused_keys::text[]) AS r (caller, key)
    WHERE k.caller = r.caller AND k.key = r.key),
combo AS (
    INSERT INTO combos AS c (sender_id, creator_id, context_kind, context_id, gift_code,
                             combo_id, count, last_at)
    SELECT * FROM unnest(:combo_senders::text[], :combo_creators::text[], :combo_kinds::text[],
                         :combo_contexts::text[], :combo_gift_codes::text[], :combo_ids::uuid[],
                         :combo_counts::integer[], :combo_last_at::timestamptz[])
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (sender_id, creator_id, context_kind, context_id, gift_code) DO UPDATE SET
        combo_id = EXCLUDED.combo_id, count = EXCLUDED.count, last_at = EXCLUDED.last_at)
SELECT 1
"""


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int
    body: dict


@dataclass(frozen=True)
class GiftRecord:
    """One accepted gift as it is written: its event and the response stored for its key."""

    command: GiftCommand
    coins: int
    balance_after: int
    wallet_version: int
    event: Envelope
    response: dict


def _bound(sql: str, **params) -> tuple:
    """(SQL, *arguments) for conn.fetch / execute, from :named parameters."""
    text, args = named(sql, **params)
    return text, *args


def columns(rows: Iterable[tuple], *names: str) -> dict[str, list]:
    """Rows -> one list per column (the arrays `unnest` takes), by name; empty lists for none."""
    rows = list(rows)
    cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
    if len(cols) != len(names):
        raise ValueError(f"{len(cols)} columns for {names}")
    return dict(zip(names, cols, strict=True))


async def claim(conn: asyncpg.Connection, commands: Sequence[GiftCommand]) -> frozenset:
    """Claims every command's key; returns the (caller, key) pairs claimed now (the others were
    used before). Waits on a key whose first use is still in flight, until it commits."""
    won = await conn.fetch(
        *_bound(
            _CLAIM,
            **columns(
                ((c.caller.user_id, c.key, c.fingerprint) for c in commands),
                "callers",
                "keys",
                "hashes",
            ),
        )
    )
    return frozenset((r["caller"], r["key"]) for r in won)


async def remember_callers(conn: asyncpg.Connection, commands: Sequence[GiftCommand]) -> None:
    callers = {c.caller.user_id: c.caller for c in commands}
    await conn.execute(
        *_bound(
            _REMEMBER,
            **columns(
                ((u, c.country, c.birthdate, c.account_type) for u, c in sorted(callers.items())),
                "users",
                "countries",
                "birthdates",
                "types",
            ),
        )
    )


async def lock_and_read(
    conn: asyncpg.Connection, commands: Sequence[GiftCommand], fresh: frozenset
) -> BatchRows:
    row = await conn.fetchrow(
        *_bound(
            _LOCK_AND_READ,
            senders=sorted({c.caller.user_id for c in commands}),
            recipients=sorted({c.creator_id for c in commands}),
        )
    )
    wallets = {
        u: Wallet(b, v)
        for u, b, v in zip(
            row["wallet_users"] or [],
            row["wallet_balances"] or [],
            row["wallet_versions"] or [],
            strict=True,
        )
    }
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
            *_bound(
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
        wallets=wallets,
        profiles=profiles,
        banned_from_gift=frozenset(row["banned_from_gift"] or []),
        banned_from_receive=frozenset(row["banned_from_receive"] or []),
        combos=combos,
    )


async def stored_answers(
    conn: asyncpg.Connection, claims: Sequence[tuple[str, str]]
) -> dict[tuple, StoredAnswer]:
    if not claims:
        return {}
    rows = await conn.fetch(*_bound(_REPLAYS, **columns(claims, "callers", "keys")))
    return {
        (r["caller"], r["key"]): StoredAnswer(r["request_hash"], r["status_code"], r["response"])
        for r in rows
    }


async def write(
    conn: asyncpg.Connection,
    topic: str,
    records: Sequence[GiftRecord],
    refused: Sequence[tuple[str, str]],
    wallets: dict[str, Wallet],
    combos: dict[tuple, Combo],
) -> None:
    if not records and not refused:
        return
    await conn.execute(
        *_bound(
            _WRITE,
            topic=topic,
            event_type=records[0].event.type if records else "GiftSent",
            data_version=records[0].event.dataversion if records else 1,
            **columns(
                ((u, w.balance, w.version) for u, w in sorted(wallets.items())),
                "wallet_users",
                "wallet_balances",
                "wallet_versions",
            ),
            **columns(
                (
                    (
                        r.event.id,
                        r.command.caller.user_id,
                        r.coins,
                        r.balance_after,
                        r.wallet_version,
                        encode(r.event),
                    )
                    for r in records
                ),
                "event_ids",
                "senders",
                "coins",
                "balances_after",
                "versions",
                "values",
            ),
            **columns(
                (
                    (r.command.caller.user_id, r.command.key, orjson.dumps(r.response).decode())
                    for r in records
                ),
                "saved_callers",
                "saved_keys",
                "responses",
            ),
            **columns(refused, "refused_callers", "refused_keys"),
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
    )
