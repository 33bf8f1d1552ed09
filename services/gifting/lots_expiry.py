"""The bonus-lot expiry of the gifting worker (`python -m services.gifting worker`): at each
tick, what is left of every lot past its expires_at leaves the wallet, as a BonusCoinsExpired
on the wallet's stream and a ledger entry of kind bonus_expiry (docs/bonus-lots.md).

A transaction handles up to `users` wallets: it locks them in user order with SKIP LOCKED (the
lock order of every spend: a wallet busy in a spend batch is left to the next tick, and several
workers share the work without waiting on each other), then expires their due lots read under
that lock. A worker killed mid-run loses only its open transaction; a lot expires once, since
its remaining coins are set to 0 in the transaction that records the expiry.
"""

import logging
from collections import Counter
from datetime import UTC, datetime

import asyncpg

from eventkit.codec import new_envelope
from eventkit.db import create_pool
from eventkit.eventstore import append_with
from eventkit.settings import Settings
from eventkit.ticks import every
from schemas import topics
from schemas.events.bonus import BonusCoinsExpired
from services.gifting import ledger
from services.gifting.spend_store import columns

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0
SOURCE = "/coinstream/gifting"
KIND = "bonus_expiry"

_DUE = """
SELECT DISTINCT user_id FROM wallet_lots WHERE remaining > 0 AND expires_at <= $1
ORDER BY user_id LIMIT $2
"""
_LOCK = """
SELECT user_id, balance, version, bonus FROM wallets WHERE user_id = ANY($1::text[])
ORDER BY user_id FOR UPDATE SKIP LOCKED
"""
_EXPIRE = """
UPDATE wallet_lots SET expired = remaining, remaining = 0, expired_at = $2
WHERE user_id = ANY($1::text[]) AND remaining > 0 AND expires_at <= $2
RETURNING lot_id, user_id, campaign_id, expired AS coins, expires_at
"""
_WALLETS = """
UPDATE wallets w SET balance = v.balance, version = v.version, bonus = v.bonus, updated_at = now()
FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::bigint[]) AS v (user_id, balance, version,
                                                                          bonus)
WHERE w.user_id = v.user_id
"""


async def expire_due(pool: asyncpg.Pool, now: datetime, users: int = 100) -> dict[str, int]:
    """Expires the due lots of up to `users` wallets; counts lots and coins."""
    done: Counter[str] = Counter()
    async with pool.acquire() as conn, conn.transaction():
        due = [r["user_id"] for r in await conn.fetch(_DUE, now, users)]
        if not due:
            return {}
        locked = await conn.fetch(_LOCK, due)
        wallets = {r["user_id"]: (r["balance"], r["version"], r["bonus"]) for r in locked}
        lots = await conn.fetch(_EXPIRE, sorted(wallets), now)
        for lot in sorted(lots, key=lambda r: (r["user_id"], r["expires_at"], r["lot_id"])):
            user = lot["user_id"]
            balance, version, bonus = wallets[user]
            wallets[user] = balance, version, bonus = (
                balance - lot["coins"],
                version + 1,
                bonus - lot["coins"],
            )
            await record(conn, lot, now, balance, version)
            done["lots"] += 1
            done["coins"] += lot["coins"]
        touched = {r["user_id"] for r in lots}
        await conn.execute(
            _WALLETS,
            *columns(
                ((u, *w) for u, w in sorted(wallets.items()) if u in touched), "u", "b", "v", "x"
            ).values(),
        )
    return dict(done)


async def record(
    conn: asyncpg.Connection, lot: asyncpg.Record, now: datetime, balance: int, version: int
) -> None:
    payload = BonusCoinsExpired(
        lot_id=lot["lot_id"],
        user_id=lot["user_id"],
        campaign_id=lot["campaign_id"],
        coins=lot["coins"],
        expires_at=lot["expires_at"],
        expired_at=now,
        balance_after=balance,
    )
    user = lot["user_id"]
    envelope = new_envelope(
        SOURCE, payload, aggregate_id=f"wallet-{user}", aggregate_version=version, subject=user
    )
    await append_with(
        conn,
        topics.GIFTING_EVENTS,
        envelope,
        ledger.spend_entry(user, envelope.id, KIND, lot["coins"], balance),
    )


async def run(settings: Settings) -> None:
    pool = await create_pool(settings.database_for("gifting"))
    try:
        await every(INTERVAL_SECONDS, lambda: expire_due(pool, datetime.now(UTC)), log)
    finally:
        await pool.close()
