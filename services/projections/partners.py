"""Read models of partner platforms, folded from the gifting topic's partner events with
order-independent merges (sums, first times), so a rebuild equals live:

- `partner_daily`: per (partner, UTC day): debits and their coins, the partner's revenue share
  of them, credits and their coins (what the partner owes and is owed, for settlement);
- `partner_consents`: one row per consent: whose, to which partner, when granted and revoked.

Wallet movements of the debits and credits are folded by the wallet read models
(read_models.py) through `wallet_line`, so statements name the partner as counterparty."""

from datetime import UTC
from typing import TYPE_CHECKING

from schemas.events.base import Payload
from schemas.events.partners import (
    PartnerCoinsCredited,
    PartnerCoinsDebited,
    PartnerConsentGranted,
    PartnerConsentRevoked,
)
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

LAST = Column("last_event_time", "timestamptz", MAX)
DAILY = Table(
    "partner_daily",
    (Column("partner_id", "text"), Column("day", "date")),
    (
        Column("debits", "bigint"),
        Column("debit_coins", "bigint"),
        Column("partner_coins", "bigint"),
        Column("credits", "bigint"),
        Column("credit_coins", "bigint"),
        LAST,
    ),
)
CONSENTS = Table(
    "partner_consents",
    (Column("consent_id", "text"),),
    (
        Column("user_id", "text", MAX),
        Column("partner_id", "text", MAX),
        Column("granted_at", "timestamptz", MIN),
        Column("revoked_at", "timestamptz", MIN),
        LAST,
    ),
)
TABLES = (DAILY, CONSENTS)


def wallet_line(p: Payload) -> tuple[str, str, int, str, str, int] | None:
    """The wallet statement line of a partner operation: (user, kind, coins, reference,
    counterparty: the partner, balance after); None for any other event."""
    if isinstance(p, PartnerCoinsDebited):
        return p.user_id, "partner_debit", -p.coins, p.operation_id, p.partner_id, p.balance_after
    if isinstance(p, PartnerCoinsCredited):
        return p.user_id, "partner_credit", p.coins, p.operation_id, p.partner_id, p.balance_after
    return None


def fold_partners(facts: "list[Fact]") -> list[Rows]:
    daily, consents = DAILY.rows(), CONSENTS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case PartnerCoinsDebited():
                daily.add(
                    (p.partner_id, t.astimezone(UTC).date()),
                    debits=1,
                    debit_coins=p.coins,
                    partner_coins=p.partner_coins,
                    last_event_time=t,
                )
            case PartnerCoinsCredited():
                daily.add(
                    (p.partner_id, t.astimezone(UTC).date()),
                    credits=1,
                    credit_coins=p.coins,
                    last_event_time=t,
                )
            case PartnerConsentGranted():
                consents.add(
                    (p.consent_id,),
                    user_id=p.user_id,
                    partner_id=p.partner_id,
                    granted_at=t,
                    last_event_time=t,
                )
            case PartnerConsentRevoked():
                consents.add(
                    (p.consent_id,),
                    user_id=p.user_id,
                    partner_id=p.partner_id,
                    revoked_at=t,
                    last_event_time=t,
                )
    return [daily, consents]
