"""What the gifting service does with events it consumes."""

from eventkit.consumer import Handler
from schemas.events.accounts import AccountProfileUpdated
from schemas.events.recharge import CoinPurchased, CoinsClawedBack
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from services.gifting import accounts, ledger


async def on_coin_purchased(conn, envelope, payload: CoinPurchased) -> None:
    await ledger.credit(conn, payload.user_id, payload.coins, envelope.id, "purchase")


async def on_coins_clawed_back(conn, envelope, payload: CoinsClawedBack) -> None:
    await ledger.credit(conn, payload.user_id, -payload.coins, envelope.id, "clawback")


async def on_ban_placed(conn, envelope, payload: TransactionBanPlaced) -> None:
    await accounts.place_ban(conn, payload.ban_id, payload.user_id, list(payload.scopes),
                             payload.expires_at)


async def on_ban_lifted(conn, envelope, payload: TransactionBanLifted) -> None:
    await accounts.lift_ban(conn, payload.ban_id, payload.user_id)


async def on_profile(conn, envelope, payload: AccountProfileUpdated) -> None:
    await accounts.upsert_profile(conn, payload.user_id, payload.country, payload.birthdate,
                                  payload.account_type)


HANDLERS: dict[str, Handler] = {
    "CoinPurchased": on_coin_purchased,
    "CoinsClawedBack": on_coins_clawed_back,
    "TransactionBanPlaced": on_ban_placed,
    "TransactionBanLifted": on_ban_lifted,
    "AccountProfileUpdated": on_profile,
}
