"""What the gifting service does with events it consumes."""

from eventkit.consumer import Handler
from schemas.events.recharge import CoinPurchased
from services.gifting import ledger


async def on_coin_purchased(conn, envelope, payload: CoinPurchased) -> None:
    await ledger.credit(conn, payload.user_id, payload.coins, envelope.id, "purchase")


HANDLERS: dict[str, Handler] = {"CoinPurchased": on_coin_purchased}
