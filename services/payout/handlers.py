"""What the payout service does with events it consumes: credits from gifts and unlocks, and
the transaction bans it must enforce on withdrawals. Gifts arrive as GiftSent v2 whatever
version was sent (eventkit.codec upcasts v1), so there is one crediting rule for both."""

from collections.abc import Sequence

import asyncpg

from eventkit import bans
from eventkit.consumer import BatchHandlers, Handlers, handle, handle_batch
from schemas.envelope import Envelope
from schemas.events.gifting import ContentUnlocked, GiftSentV2
from schemas.events.live_events import LiveEventStarted
from schemas.events.partners import PartnerCoinsDebited
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from schemas.events.subscriptions import (
    SubscriptionRenewed,
    SubscriptionsGifted,
    SubscriptionStarted,
)
from schemas.upcast import upcast
from services.payout.conversion import load_config
from services.payout.domain import Reserve
from services.payout.ledger import Credit, credit, credit_many
from services.payout.live_events import on_live_event_started
from services.payout.partners import on_partner_debit
from services.payout.subscriptions import on_subscription_charge

PLATFORM = "platform"  # unlocks of platform-owned items earn no creator anything


def reserve() -> Reserve:
    return Reserve.from_config(load_config().reserve)


def credits_of(event: GiftSentV2 | ContentUnlocked) -> list[Credit]:
    """What a gift or an unlock earns (at the rates recorded on it: diamonds_per_coin for its
    purchased coins, bonus_diamonds_per_coin for those from bonus lots): one credit per
    recipient of a gift, split as GiftSentV2.split says; none for an unlock of a platform item,
    which earns no creator anything."""
    # A caller that validated a v1 payload itself (not through the codec) still gets v2 figures.
    read = upcast(event)
    if isinstance(read, GiftSentV2):
        event = read
    if isinstance(event, GiftSentV2):
        stream = event.context.id if event.context.kind == "live" else None
        return [
            Credit(
                share.creator_id,
                "gift",
                event.gift_id,
                stream,
                share.coins,
                event.diamonds_per_coin,
                share.diamonds,
            )
            for share in event.split()
        ]
    if not isinstance(event, ContentUnlocked) or event.owner_id == PLATFORM:
        return []
    return [
        Credit(
            event.owner_id,
            "unlock",
            event.unlock_id,
            None,
            event.coins,
            event.diamonds_per_coin,
            event.earned(),  # its purchased part at diamonds_per_coin, its bonus part at its rate
        )
    ]


Earning = GiftSentV2 | ContentUnlocked


async def on_earning(conn: asyncpg.Connection, envelope: Envelope, event: Earning) -> None:
    """Credits each creator (DiamondsCredited), part held in reserve."""
    for c in credits_of(event):
        await credit(conn, envelope, c, reserve())


async def on_earnings(conn: asyncpg.Connection, events: Sequence[tuple[Envelope, Earning]]) -> None:
    """on_earning for a run of gifts and unlocks: one set-based credit for the whole run."""
    credits = [(envelope, c) for envelope, event in events for c in credits_of(event)]
    if credits:
        await credit_many(conn, credits, reserve())


async def on_ban_placed(
    conn: asyncpg.Connection, envelope: Envelope, ban: TransactionBanPlaced
) -> None:
    await bans.place(conn, ban)


async def on_ban_lifted(
    conn: asyncpg.Connection, envelope: Envelope, lift: TransactionBanLifted
) -> None:
    await bans.lift(conn, lift, envelope.time)


HANDLERS: Handlers = dict(
    [
        handle(GiftSentV2, on_earning),
        handle(ContentUnlocked, on_earning),
        handle(LiveEventStarted, on_live_event_started),
        handle(SubscriptionStarted, on_subscription_charge),
        handle(SubscriptionRenewed, on_subscription_charge),
        handle(SubscriptionsGifted, on_subscription_charge),
        handle(PartnerCoinsDebited, on_partner_debit),
        handle(TransactionBanPlaced, on_ban_placed),
        handle(TransactionBanLifted, on_ban_lifted),
    ]
)
BATCH_HANDLERS: BatchHandlers = dict(
    [
        handle_batch(GiftSentV2, on_earnings),
        handle_batch(ContentUnlocked, on_earnings),
    ]
)
