"""Funding wallets and creators directly through the consumers' own handlers (the same code
path a CoinPurchased / GiftSent from Kafka takes), for tests that start mid-story."""

import uuid

from eventkit.codec import new_envelope
from schemas.events.recharge import CoinPurchased
from schemas.money import Money
from services.gifting.handlers import on_coin_purchased


def coin_purchased(user: str, coins: int) -> tuple:
    usd = Money(amount_minor=coins, currency="USD")
    payload = CoinPurchased(
        purchase_id=str(uuid.uuid4()),
        user_id=user,
        bundle_id="custom",
        coins=coins,
        country="US",
        channel="web",
        price=usd,
        settlement=usd,
        fee=Money(amount_minor=0, currency="USD"),
        fx_rate="1",
        catalog_version=1,
        rates_version=1,
        provider="test",
        provider_txn_id=str(uuid.uuid4()),
    )
    env = new_envelope(
        "/test",
        payload,
        aggregate_id=f"purchase-{payload.purchase_id}",
        aggregate_version=1,
        subject=user,
    )
    return env, payload


def purchased_at(user: str, quote, country: str) -> CoinPurchased:
    """The CoinPurchased of a purchase confirmed at `quote` (a pricing Quote) by the sandbox."""
    pid = str(uuid.uuid4())
    return CoinPurchased(
        purchase_id=pid,
        user_id=user,
        bundle_id=quote.bundle_id,
        coins=quote.coins,
        country=country,
        channel=quote.channel,
        price=quote.price,
        settlement=quote.settlement,
        fee=quote.fee,
        fx_rate=quote.fx_rate,
        catalog_version=quote.catalog_version,
        rates_version=quote.rates_version,
        provider="sandbox",
        provider_txn_id=f"txn-{pid}",
    )


async def fund_wallet(gifting_pool, user: str, coins: int) -> None:
    env, payload = coin_purchased(user, coins)
    async with gifting_pool.acquire() as conn, conn.transaction():
        await on_coin_purchased(conn, env, payload)
