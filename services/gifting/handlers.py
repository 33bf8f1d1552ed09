"""What the gifting service does with events it consumes."""

import asyncpg

from eventkit import bans
from eventkit.consumer import Handlers, handle
from schemas.envelope import Envelope
from schemas.events.accounts import AccountProfileUpdated
from schemas.events.promotions import BonusCoinsGranted
from schemas.events.recharge import CoinPurchased, CoinsClawedBack
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from services.gifting import accounts, ledger, lots_store


async def on_coin_purchased(
    conn: asyncpg.Connection, envelope: Envelope, payload: CoinPurchased
) -> None:
    await ledger.credit(conn, payload.user_id, payload.coins, envelope.id, "purchase")


async def on_coins_clawed_back(
    conn: asyncpg.Connection, envelope: Envelope, payload: CoinsClawedBack
) -> None:
    await ledger.credit(conn, payload.user_id, -payload.coins, envelope.id, "clawback")


async def on_bonus_granted(
    conn: asyncpg.Connection, envelope: Envelope, payload: BonusCoinsGranted
) -> None:
    """A lot of its own in the wallet (once per grant id, behind the consumer's dedupe)."""
    await lots_store.grant(conn, envelope.id, envelope.time, payload)


async def on_ban_placed(
    conn: asyncpg.Connection, envelope: Envelope, payload: TransactionBanPlaced
) -> None:
    await bans.place(conn, payload)


async def on_ban_lifted(
    conn: asyncpg.Connection, envelope: Envelope, payload: TransactionBanLifted
) -> None:
    await bans.lift(conn, payload, envelope.time)


async def on_profile(
    conn: asyncpg.Connection, envelope: Envelope, payload: AccountProfileUpdated
) -> None:
    await accounts.upsert_profile(
        conn, payload.user_id, payload.country, payload.birthdate, payload.account_type
    )


HANDLERS: Handlers = dict(
    [
        handle(CoinPurchased, on_coin_purchased),
        handle(CoinsClawedBack, on_coins_clawed_back),
        handle(BonusCoinsGranted, on_bonus_granted),
        handle(TransactionBanPlaced, on_ban_placed),
        handle(TransactionBanLifted, on_ban_lifted),
        handle(AccountProfileUpdated, on_profile),
    ]
)
