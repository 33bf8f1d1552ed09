"""What a partner's debit earns the partner: its revenue share of the coins at the share and
diamond rate the event recorded (PartnerCoinsDebited.partner_coins / partner_diamonds), one
credit of the source 'partner' per debit event, to the partner's account, which withdraws it
like a creator (payout-consumer)."""

import asyncpg

from schemas.envelope import Envelope
from schemas.events.partners import PartnerCoinsDebited
from services.payout.conversion import load_config
from services.payout.domain import Reserve
from services.payout.ledger import Credit, credit


def partner_credits(event: PartnerCoinsDebited) -> list[Credit]:
    """The partner's share; nothing when it rounds to no coin."""
    if event.partner_coins == 0:
        return []
    return [
        Credit(
            event.partner_id,
            "partner",
            event.operation_id,
            None,
            event.partner_coins,
            event.diamonds_per_coin,
            event.partner_diamonds,
        )
    ]


async def on_partner_debit(
    conn: asyncpg.Connection, envelope: Envelope, event: PartnerCoinsDebited
) -> None:
    """Credits the partner once per debit event (the credits row is keyed by the source event),
    part held in reserve like every credit."""
    for c in partner_credits(event):
        await credit(conn, envelope, c, Reserve.from_config(load_config().reserve))
