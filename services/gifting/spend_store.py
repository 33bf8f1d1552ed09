"""The SQL every spend batch (gifts: gift_store, unlocks: unlock_store) shares: set-based
statements (`unnest` over arrays, :named parameters, one array per column), the same whatever
the batch size.

Locks are taken in one global order by every spend, whichever batcher it goes through: the
idempotency keys by (caller, key), then the callers' profiles by user id, then the wallets by
user id. A gift batch and an unlock batch touching the same wallets can wait on each other but
never deadlock; everything else a spend writes (ledger, events, an unlock's (user, item) row) is
written only while its user's wallet is locked.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg
import orjson

from eventkit import bans
from eventkit.codec import encode
from eventkit.db import named
from schemas.envelope import Envelope
from services.gifting.spend_decide import Command, Draw, StoredAnswer, Wallet


def active_ban(users: str, scope: str) -> str:
    """The users of the array `users` with an active ban covering `scope` or the account."""
    return (
        "SELECT array_agg(DISTINCT user_id) FROM bans"
        f" WHERE {bans.active(f'ANY({users}::text[])', repr(scope))}"
    )


# The spenders' wallets, locked in user order (a CTE of the statement that reads them).
LOCK_WALLETS = """w AS (SELECT user_id, balance, version, bonus FROM wallets
           WHERE user_id = ANY(:spenders::text[]) ORDER BY user_id FOR UPDATE)"""
WALLET_COLUMNS = """(SELECT array_agg(user_id ORDER BY user_id) FROM w) AS wallet_users,
       (SELECT array_agg(balance ORDER BY user_id) FROM w) AS wallet_balances,
       (SELECT array_agg(version ORDER BY user_id) FROM w) AS wallet_versions,
       (SELECT array_agg(bonus ORDER BY user_id) FROM w) AS wallet_bonuses"""

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

_REPLAYS = """
SELECT k.caller, k.key, k.request_hash, k.status_code, k.response FROM idempotency_keys k
JOIN unnest(:callers::text[], :keys::text[]) AS r (caller, key) USING (caller, key)
"""

# Everything a batch decided, in one statement; `{also}` adds the CTEs of its kind (combos,
# unlock rows). Spends keep arrival order (WITH ORDINALITY), so ledger entries and outbox rows
# of one wallet follow its versions.
_WRITE = """
WITH
wallet AS (
    UPDATE wallets w SET balance = v.balance, version = v.version, bonus = v.bonus,
        updated_at = now()
    FROM unnest(:wallet_users::text[], :wallet_balances::bigint[], :wallet_versions::integer[],
                :wallet_bonuses::bigint[])
        AS v (user_id, balance, version, bonus)
    WHERE w.user_id = v.user_id),
lot AS (
    -- what the spends took from bonus lots, per lot (their wallets are locked: no one else
    -- writes these rows now); nothing for a batch of spenders without lots
    UPDATE wallet_lots l SET remaining = l.remaining - d.coins
    FROM unnest(:lot_ids::text[], :lot_coins::bigint[]) AS d (lot_id, coins)
    WHERE l.lot_id = d.lot_id),
spend AS (
    SELECT * FROM unnest(:event_ids::uuid[], :spent_by::text[], :coins::bigint[],
                         :balances_after::bigint[], :versions::integer[], :values::bytea[],
                         :traceparents::text[])
        WITH ORDINALITY AS s (event_id, user_id, coins, balance_after, version, value,
                              traceparent, n)),
ledger AS (
    INSERT INTO wallet_ledger (user_id, event_id, kind, delta, balance_after)
    SELECT user_id, event_id, :kind, -coins, balance_after FROM spend ORDER BY n),
event AS (
    INSERT INTO events (event_id, stream_id, version, event_type, data_version, envelope)
    SELECT event_id, 'wallet-' || user_id, version, :event_type, :data_version,
           convert_from(value, 'UTF8')::jsonb
    FROM spend ORDER BY n),
outbox AS (
    INSERT INTO outbox (event_id, topic, key, value, traceparent)
    SELECT event_id, :topic, 'wallet-' || user_id, value, traceparent FROM spend ORDER BY n),
saved AS (
    UPDATE idempotency_keys k SET status_code = r.status, response = r.response::jsonb
    FROM unnest(:saved_callers::text[], :saved_keys::text[], :saved_statuses::integer[],
                :responses::text[]) AS r (caller, key, status, response)
    WHERE k.caller = r.caller AND k.key = r.key),
spent_in AS (
    -- every spend counts in its user's windows (limits_store reads them): UTC calendar periods
    -- by this transaction's clock, the clock limits_store.WINDOW_STARTS reads them by
    INSERT INTO spend_windows AS sw (user_id, period, starts_at, coins)
    SELECT s.user_id, p.period, date_trunc(p.period, now(), 'UTC'), sum(s.coins)
    FROM spend s CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS p (period)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (user_id, period, starts_at) DO UPDATE SET coins = sw.coins + EXCLUDED.coins),
refused AS (
    DELETE FROM idempotency_keys k
    USING unnest(:refused_callers::text[], :refused_keys::text[]) AS r (caller, key)
    WHERE k.caller = r.caller AND k.key = r.key){also}
SELECT 1
"""


@dataclass(frozen=True)
class Spend:
    """One accepted spend as it is written: the debit and its event (aggregate wallet-<user>)."""

    user_id: str
    coins: int
    balance_after: int
    version: int
    event: Envelope
    traceparent: str | None = None  # its request's, when tracing is on (eventkit.tracing)
    draws: tuple[Draw, ...] = ()  # what it took from bonus lots


@dataclass(frozen=True)
class Answer:
    """The answer stored for a key claimed by this batch."""

    caller: str
    key: str
    status: int
    body: dict


def bound(sql: str, **params) -> tuple:
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


def wallets_of(row: asyncpg.Record) -> dict[str, Wallet]:
    """The wallets a statement with WALLET_COLUMNS read."""
    return {
        u: Wallet(b, v, bonus=bonus)
        for u, b, v, bonus in zip(
            row["wallet_users"] or [],
            row["wallet_balances"] or [],
            row["wallet_versions"] or [],
            row["wallet_bonuses"] or [],
            strict=True,
        )
    }


def lot_draws(spends: Iterable[Spend]) -> Counter[str]:
    """Coins taken from each lot by the batch's spends."""
    taken: Counter[str] = Counter()
    for s in spends:
        for lot_id, coins in s.draws:
            taken[lot_id] += coins
    return taken


async def claim(conn: asyncpg.Connection, commands: Sequence[Command]) -> frozenset:
    """Claims every command's key; returns the (caller, key) pairs claimed now (the others were
    used before). Waits on a key whose first use is still in flight, until it commits."""
    won = await conn.fetch(
        *bound(
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


async def remember_callers(conn: asyncpg.Connection, commands: Sequence[Command]) -> None:
    callers = {c.caller.user_id: c.caller for c in commands}
    await conn.execute(
        *bound(
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


async def stored_answers(
    conn: asyncpg.Connection, claims: Sequence[tuple[str, str]]
) -> dict[tuple, StoredAnswer]:
    if not claims:
        return {}
    rows = await conn.fetch(*bound(_REPLAYS, **columns(claims, "callers", "keys")))
    return {
        (r["caller"], r["key"]): StoredAnswer(r["request_hash"], r["status_code"], r["response"])
        for r in rows
    }


async def write(
    conn: asyncpg.Connection,
    topic: str,
    kind: str,
    spends: Sequence[Spend],
    answers: Sequence[Answer],
    refused: Sequence[tuple[str, str]],
    wallets: dict[str, Wallet],
    also: str = "",
    **also_params,
) -> None:
    """Writes the batch: wallets, ledger (`kind`), events and outbox, the answers of its keys,
    the release of refused keys, and `also` (CTEs of the batch's kind, with `also_params`)."""
    if not answers and not refused:
        return
    types = {(s.event.type, s.event.dataversion) for s in spends}
    if len(types) > 1:
        raise ValueError(f"one event type per batch, not {sorted(types)}")
    event_type, data_version = types.pop() if types else ("", 1)
    await conn.execute(
        *bound(
            _WRITE.format(also=also),
            topic=topic,
            kind=kind,
            event_type=event_type,
            data_version=data_version,
            **columns(
                ((u, w.balance, w.version, w.bonus) for u, w in sorted(wallets.items())),
                "wallet_users",
                "wallet_balances",
                "wallet_versions",
                "wallet_bonuses",
            ),
            **columns(sorted(lot_draws(spends).items()), "lot_ids", "lot_coins"),
            **columns(
                (
                    (
                        s.event.id,
                        s.user_id,
                        s.coins,
                        s.balance_after,
                        s.version,
                        encode(s.event),
                        s.traceparent,
                    )
                    for s in spends
                ),
                "event_ids",
                "spent_by",
                "coins",
                "balances_after",
                "versions",
                "values",
                "traceparents",
            ),
            **columns(
                ((a.caller, a.key, a.status, orjson.dumps(a.body).decode()) for a in answers),
                "saved_callers",
                "saved_keys",
                "saved_statuses",
                "responses",
            ),
            **columns(refused, "refused_callers", "refused_keys"),
            **also_params,
        )
    )
