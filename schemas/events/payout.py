from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.events.base import Payload
from schemas.money import Money, Rate
from schemas.text import Id, LongId, Text

FailureReason = Literal["provider_failure", "rejected", "timeout"]


class DiamondsCredited(Payload):
    """The payout service credited a creator for a gift or unlock; `held` of them sit in
    reserve until `release_at`. Both figures follow from the rates the event records:
    diamonds = floor(coins x diamonds_per_coin), held = floor(diamonds x reserve_percent / 100);
    for a gift split between creators (GiftSent v2) `coins` and `diamonds` are this creator's
    share of the gift's, as GiftSentV2.split divides them."""

    event_type = "DiamondsCredited"

    creator_id: Id
    gift_event_id: Id = Field(description="Id of the GiftSent / ContentUnlocked event credited")
    gift_id: Id
    stream_id: Id | None = None
    coins: int = Field(ge=0)
    diamonds_per_coin: Rate = Field(description="Coin->diamond rate recorded on the source event")
    reserve_percent: Rate = Field(
        le=100, description="Share of the diamonds held in reserve, in % (0-100)"
    )
    diamonds: int = Field(ge=0)
    held: int = Field(ge=0)
    release_at: datetime | None = None
    earned_after: int


class DiamondsReleased(Payload):
    """Held diamonds became available (reserve window over)."""

    event_type = "DiamondsReleased"

    creator_id: Id
    diamonds: int = Field(gt=0)
    held_after: int


class PayoutRequested(Payload):
    """A creator's diamonds are reserved (pending) for a payout in fiat."""

    event_type = "PayoutRequested"

    payout_id: Id
    creator_id: Id
    diamonds: int = Field(gt=0)
    amount: Money = Field(description="Fiat the creator will receive")
    usd_per_diamond: Rate
    fx_rate: Rate = Field(description="Payout currency units per USD applied")
    rates_version: int
    method: Literal["bank", "paypal"]
    available_after: int
    requires_review: bool = False


class PayoutApproved(Payload):
    event_type = "PayoutApproved"

    payout_id: Id
    creator_id: Id
    approved_by: Id


class PayoutSubmitted(Payload):
    """Handed to the payout provider; settles later through a signed callback."""

    event_type = "PayoutSubmitted"

    payout_id: Id
    creator_id: Id
    provider: Id
    provider_ref: LongId


class PayoutCompleted(Payload):
    """Settled: the pending diamonds are now paid."""

    event_type = "PayoutCompleted"

    payout_id: Id
    creator_id: Id
    diamonds: int = Field(gt=0)
    amount: Money
    provider_ref: LongId | None = None


class PayoutFailed(Payload):
    """Not paid (provider failure, review rejection or settlement timeout): the pending
    diamonds return to available."""

    event_type = "PayoutFailed"

    payout_id: Id
    creator_id: Id
    diamonds: int = Field(gt=0)
    reason: FailureReason
    detail: Text | None = None


class PayoutMethodSet(Payload):
    """The creator put a payout method on file (details stay in the payout database)."""

    event_type = "PayoutMethodSet"

    creator_id: Id
    kind: Literal["bank", "paypal"]
    masked: Text = Field(description="Enough to recognise it, e.g. the last 4 characters")
