"""The SQL of bonus lots (docs/bonus-lots.md): a grant's lot, the open lots a spend batch
reads, and the upcoming expiries a statement announces. Lot rows are written only while their
wallet row is locked (a grant: by its credit; a batch: spend_store.write; the expiry worker), so
a reader holding the wallet lock sees every lot as it is."""

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from schemas.events.promotions import BonusCoinsGranted
from services.gifting import ledger
from services.gifting.spend_decide import Lot, Wallet

# How far ahead a statement announces expiries.
ANNOUNCE = timedelta(days=7)

# In spend_decide.spend_order (the lot that expires soonest first, then the oldest grant).
_OPEN = """
SELECT user_id, lot_id, remaining, expires_at, granted_at FROM wallet_lots
WHERE user_id = ANY($1::text[]) AND remaining > 0 AND (expires_at IS NULL OR expires_at > now())
ORDER BY user_id, expires_at NULLS LAST, granted_at, lot_id
"""

_GRANT = """
INSERT INTO wallet_lots (lot_id, user_id, campaign_id, source, purchase_id, granted, remaining,
                         expires_at, granted_at, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)
ON CONFLICT (lot_id) DO NOTHING RETURNING lot_id
"""

_UPCOMING = """
SELECT lot_id, campaign_id, remaining AS coins, expires_at FROM wallet_lots
WHERE user_id = $1 AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $2
ORDER BY expires_at, granted_at, lot_id
"""


async def open_lots(conn: asyncpg.Connection, users: list[str]) -> dict[str, tuple[Lot, ...]]:
    lots: dict[str, list[Lot]] = {}
    for r in await conn.fetch(_OPEN, users):
        lots.setdefault(r["user_id"], []).append(
            Lot(r["lot_id"], r["remaining"], r["expires_at"], r["granted_at"])
        )
    return {u: tuple(ls) for u, ls in lots.items()}


async def with_lots(
    conn: asyncpg.Connection, read: dict[str, Wallet], guarded: dict[str, Wallet]
) -> dict[str, Wallet]:
    """`guarded` (limits_store.guarded's wallets) with each one's bonus coins as `read`, and
    the open lots of those holding any: one statement, run only when a spender of the batch
    holds bonus coins (wallets.bonus, read with the lock), after the wallet locks are held, so
    its snapshot includes every lot a batch that held those wallets before left."""
    holders = sorted(u for u, w in read.items() if w.bonus > 0)
    lots = await open_lots(conn, holders) if holders else {}
    return {
        u: replace(w, bonus=read[u].bonus, lots=lots.get(u, ())) if u in read else w
        for u, w in guarded.items()
    }


async def grant(
    conn: asyncpg.Connection, event_id: UUID, at: datetime, g: BonusCoinsGranted
) -> bool:
    """The grant's lot and its credit to the wallet (ledger kind bonus), once per lot id:
    False (nothing credited) when the lot exists already."""
    made = await conn.fetchval(
        _GRANT,
        g.grant_id,
        g.user_id,
        g.campaign_id,
        g.source,
        g.purchase_id,
        g.coins,
        g.expires_at,
        at,
        event_id,
    )
    if made is None:
        return False
    await ledger.credit(conn, g.user_id, g.coins, event_id, "bonus", bonus=g.coins)
    return True


class UpcomingExpiry(BaseModel):
    """Bonus coins that will expire unless spent first (bonus coins are spent first, the lot
    that expires soonest first)."""

    lot_id: str
    campaign_id: str
    coins: int
    expires_at: datetime


async def upcoming_expiries(
    conn: asyncpg.Connection, user_id: str, now: datetime, within: timedelta = ANNOUNCE
) -> list[UpcomingExpiry]:
    """The user's lots with coins left that expire before now + `within` (soonest first)."""
    return [UpcomingExpiry(**r) for r in await conn.fetch(_UPCOMING, user_id, now + within)]
