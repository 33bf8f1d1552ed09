"""Bonus lots in the wallet (services/gifting/lots*.py, docs/bonus-lots.md): what happens to a
lot after recharge granted it (promotions.BonusCoinsGranted). Spends from lots are recorded on
the spend's own event (gifting.BonusPart)."""

from datetime import datetime

from pydantic import Field

from schemas.events.base import Payload
from schemas.money import Coins
from schemas.text import Id


class BonusCoinsExpired(Payload):
    """What was left of a bonus lot expired at its expires_at: those coins left the wallet
    (ledger kind bonus_expiry), unspent; nobody earns anything from them."""

    event_type = "BonusCoinsExpired"

    lot_id: Id = Field(description="The lot: the grant_id of its BonusCoinsGranted")
    user_id: Id
    campaign_id: Id
    coins: Coins = Field(gt=0, description="What was left of the lot")
    expires_at: datetime = Field(description="When the lot was to expire (its grant said)")
    expired_at: datetime = Field(description="When the expiry was applied")
    balance_after: int
