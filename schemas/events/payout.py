from typing import Literal

from pydantic import Field

from schemas.events.base import Payload
from schemas.money import Money, Rate


class DiamondsCredited(Payload):
    """The payout service credited a creator for a gift (diamonds = coins x recorded rate)."""

    event_type = "DiamondsCredited"

    creator_id: str
    gift_event_id: str
    gift_id: str
    stream_id: str | None = None
    diamonds: int = Field(ge=0)
    earned_after: int


class PayoutRequested(Payload):
    """A creator's diamonds are reserved (pending) for a payout in fiat."""

    event_type = "PayoutRequested"

    payout_id: str
    creator_id: str
    diamonds: int = Field(gt=0)
    amount: Money = Field(description="Fiat the creator will receive")
    usd_per_diamond: Rate
    fx_rate: Rate = Field(description="Payout currency units per USD applied")
    rates_version: int
    method: Literal["bank", "paypal"]
    available_after: int
