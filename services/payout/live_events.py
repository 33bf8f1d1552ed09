"""What a live event's start earns its creator: the settled tickets' coins at the rates the
event recorded (a credit of the source 'ticket', one per live event; payout-consumer)."""

import asyncpg

from schemas.envelope import Envelope
from schemas.events.live_events import LiveEventStarted
from services.payout.conversion import diamonds_for, load_config
from services.payout.domain import Reserve
from services.payout.ledger import Credit, credit


def ticket_credits(event: LiveEventStarted) -> list[Credit]:
    """floor(coins x diamonds_per_coin) diamonds to the creator; nothing when no ticket sold."""
    if event.coins == 0:
        return []
    return [
        Credit(
            event.creator_id,
            "ticket",
            event.live_event_id,
            None,
            event.coins,
            event.diamonds_per_coin,
            diamonds_for(event.coins, event.diamonds_per_coin),
        )
    ]


async def on_live_event_started(
    conn: asyncpg.Connection, envelope: Envelope, event: LiveEventStarted
) -> None:
    """Credits the creator once per start (the credits row is keyed by the source event), part
    held in reserve like every credit."""
    for c in ticket_credits(event):
        await credit(conn, envelope, c, Reserve.from_config(load_config().reserve))
