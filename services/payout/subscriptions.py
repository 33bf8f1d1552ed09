"""What a subscription charge earns its creator: the creator's share of the coins at the share
rate and diamond rate the event recorded (SubscriptionCharge.creator_coins / creator_diamonds),
one credit of the source 'subscription' per charge event (payout-consumer)."""

import asyncpg

from schemas.envelope import Envelope
from schemas.events.subscriptions import (
    SubscriptionRenewed,
    SubscriptionsGifted,
    SubscriptionStarted,
)
from services.payout.conversion import load_config
from services.payout.domain import Reserve
from services.payout.ledger import Credit, credit

Charge = SubscriptionStarted | SubscriptionRenewed | SubscriptionsGifted


def subscription_credits(event: Charge) -> list[Credit]:
    """The creator's share: floor(coins x creator_share) coins, floor(those x diamonds_per_coin)
    diamonds; nothing when the share rounds to no coin."""
    if event.creator_coins == 0:
        return []
    source_id = event.gift_id if isinstance(event, SubscriptionsGifted) else event.subscription_id
    stream = event.stream_id if isinstance(event, SubscriptionsGifted) else None
    return [
        Credit(
            event.creator_id,
            "subscription",
            source_id,
            stream,
            event.creator_coins,
            event.diamonds_per_coin,
            event.creator_diamonds,
        )
    ]


async def on_subscription_charge(
    conn: asyncpg.Connection, envelope: Envelope, event: Charge
) -> None:
    """Credits the creator once per charge event (the credits row is keyed by the source event),
    part held in reserve like every credit."""
    for c in subscription_credits(event):
        await credit(conn, envelope, c, Reserve.from_config(load_config().reserve))
