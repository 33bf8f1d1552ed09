"""What the payout service does with events it consumes: credits from gifts and unlocks, and
the transaction bans it must enforce on withdrawals."""

from collections.abc import Sequence

import asyncpg

from eventkit import bans
from eventkit.consumer import BatchHandlers, Handlers, handle, handle_batch
from schemas.envelope import Envelope
from schemas.events.gifting import ContentUnlocked, GiftSent
from schemas.events.sanctions import TransactionBanLifted, TransactionBanPlaced
from services.payout.conversion import load_config
from services.payout.domain import Reserve
from services.payout.ledger import Credit, credit, credit_many

PLATFORM = "platform"  # unlocks of platform-owned items earn no creator anything


def reserve() -> Reserve:
    return Reserve.from_config(load_config().reserve)


def credit_of(event: GiftSent | ContentUnlocked) -> Credit | None:
    """What a gift or an unlock earns its creator (at the rate recorded on it); None for an
    unlock of a platform item, which earns no creator anything."""
    if isinstance(event, GiftSent):
        stream = event.context.id if event.context.kind == "live" else None
        return Credit(
            event.creator_id, "gift", event.gift_id, stream, event.coins, event.diamonds_per_coin
        )
    if event.owner_id == PLATFORM:
        return None
    return Credit(
        event.owner_id, "unlock", event.unlock_id, None, event.coins, event.diamonds_per_coin
    )


async def on_earning(
    conn: asyncpg.Connection, envelope: Envelope, event: GiftSent | ContentUnlocked
) -> None:
    """Credits the creator (DiamondsCredited), part held in reserve."""
    if (c := credit_of(event)) is not None:
        await credit(conn, envelope, c, reserve())


Earning = GiftSent | ContentUnlocked


async def on_earnings(conn: asyncpg.Connection, events: Sequence[tuple[Envelope, Earning]]) -> None:
    """on_earning for a run of gifts and unlocks: one set-based credit for the whole run."""
    credits = [(envelope, c) for envelope, event in events if (c := credit_of(event))]
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
        handle(GiftSent, on_earning),
        handle(ContentUnlocked, on_earning),
        handle(TransactionBanPlaced, on_ban_placed),
        handle(TransactionBanLifted, on_ban_lifted),
    ]
)
BATCH_HANDLERS: BatchHandlers = dict(
    [
        handle_batch(GiftSent, on_earnings),
        handle_batch(ContentUnlocked, on_earnings),
    ]
)
