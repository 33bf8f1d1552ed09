from typing import Literal

from pydantic import Field

from schemas.events.base import Payload
from schemas.money import Coins, Country, Money, Rate
from schemas.text import Id, LongId, Text

Channel = Literal["web", "in_app"]


class CoinPurchased(Payload):
    """A confirmed payment turned into coins for the buyer's wallet."""

    event_type = "CoinPurchased"

    purchase_id: Id
    user_id: Id
    bundle_id: Id
    coins: Coins = Field(gt=0)
    country: Country
    channel: Channel
    price: Money = Field(description="What the buyer was charged, in the charge currency")
    settlement: Money = Field(description="What the platform receives, in the settlement currency")
    fee: Money = Field(description="Processing fee, in the settlement currency")
    fx_rate: Rate = Field(description="Settlement units per charge unit applied (1 when equal)")
    catalog_version: int
    rates_version: int
    provider: Id
    provider_txn_id: LongId
    fee_rate: Rate | None = Field(default=None, description="Fee rate applied to the settlement")
    price_list: Id | None = Field(default=None, description="Price list the price came from")
    promo_code: Text | None = Field(
        default=None, description="The promo code redeemed on this purchase (upper case)"
    )
    campaign_id: Id | None = Field(default=None, description="The code's campaign")
    discount: Money | None = Field(
        default=None, description="Taken off the price by the code, in the charge currency"
    )


class PurchaseFailed(Payload):
    """A payment was declined or timed out; no coins were granted."""

    event_type = "PurchaseFailed"

    purchase_id: Id
    user_id: Id
    bundle_id: Id
    reason: Text = Field(description="declined | timeout")
    provider: Id
    provider_txn_id: LongId | None = None
    detail: Text | None = Field(default=None, description="The provider's decline detail")


class PurchaseCreated(Payload):
    """A purchase was started and a payment created with the provider; no coins yet."""

    event_type = "PurchaseCreated"

    purchase_id: Id
    user_id: Id
    bundle_id: Id
    coins: Coins = Field(gt=0)
    country: Country
    channel: Channel
    price: Money
    catalog_version: int
    provider: Id
    provider_txn_id: LongId | None = None
    campaign_id: Id | None = Field(default=None, description="The campaign of a promo code")
    discount: Money | None = Field(
        default=None, description="Taken off the price by the code, in the charge currency"
    )


ClawbackReason = Literal[
    "cancellation", "chargeback", "suspected_fraud", "friendly_fraud", "duplicate"
]


class CoinsClawedBack(Payload):
    """A provider reversed a confirmed payment; its coins leave the wallet (which may go
    negative and then cannot spend)."""

    event_type = "CoinsClawedBack"

    purchase_id: Id
    user_id: Id
    coins: Coins = Field(gt=0)
    reason_code: ClawbackReason
    provider: Id
    provider_txn_id: LongId
    settlement: Money = Field(description="Settlement amount reversed")


class PaymentRefundDue(Payload):
    """A payment succeeded after its purchase had already failed (it timed out): no coins were
    granted, so the money is owed back. The recharge worker refunds it through the provider."""

    event_type = "PaymentRefundDue"

    purchase_id: Id
    user_id: Id
    provider: Id
    provider_txn_id: LongId
    amount: Money = Field(description="What the provider took, in the charge currency")
    reason: Literal["late_success"] = "late_success"


class PaymentRefunded(Payload):
    """The provider accepted the refund of a payment owed back (after PaymentRefundDue)."""

    event_type = "PaymentRefunded"

    purchase_id: Id
    user_id: Id
    provider: Id
    provider_txn_id: LongId
    refund_id: LongId = Field(description="The provider's reference for the refund")
    amount: Money
