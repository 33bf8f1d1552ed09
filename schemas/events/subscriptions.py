"""Subscriptions to a creator, paid in coins per month, and gifted subscriptions.

Every event that moves coins out of a wallet is a `SubscriptionCharge`: it names the wallet
(`payer_id`), the coins, the balance after, and the creator's share rate and diamond rate in
force, so payout credits the creator from the event alone and a rebuild equals live. All of
them travel on the gifting topic keyed by the wallet owner (the payer), which keeps per-wallet
order; the lifecycle events without a charge are keyed by the subscriber.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.base import Payload
from schemas.money import Coins, Rate
from schemas.text import Id

Tier = Literal["none", "bronze", "silver", "gold", "platinum", "diamond"]


def _floor(coins: int, rate) -> int:
    """floor(coins x rate) in integers: a Rate is a finite decimal, so its exact ratio keeps
    the product free of Decimal's 28-digit rounding."""
    numerator, denominator = rate.as_integer_ratio()
    return coins * numerator // denominator


class SubscriptionPriceSet(Payload):
    """A creator offers subscriptions at this price per month (a higher price_version each
    time). Running subscriptions keep the price they were taken at."""

    event_type = "SubscriptionPriceSet"

    creator_id: Id
    coins: Coins = Field(gt=0, description="Coins per one-month period")
    price_version: int = Field(ge=1)
    config_version: int = Field(ge=1, description="Subscription config (price bounds) in force")


class SubscriptionCharge(Payload):
    """What every coin-moving subscription event says (not an event by itself)."""

    payer_id: Id = Field(description="The wallet debited")
    creator_id: Id
    coins: Coins = Field(gt=0, description="Coins debited from the payer's wallet")
    creator_share: Rate = Field(le=1, description="The creator's share of the coins")
    diamonds_per_coin: Rate = Field(description="Coin->diamond rate for the creator's share")
    rates_version: int = Field(ge=1)
    balance_after: int

    @property
    def creator_coins(self) -> int:
        """floor(coins x creator_share): the creator's part of the coins."""
        return _floor(self.coins, self.creator_share)

    @property
    def creator_diamonds(self) -> int:
        """floor(creator_coins x diamonds_per_coin): what the creator earns."""
        return _floor(self.creator_coins, self.diamonds_per_coin)


class Entitlement(BaseModel):
    """A subscriber's standing with a creator after this event: months paid in total (across
    all their subscriptions to the creator) and the badge tier those months give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    months: int = Field(ge=0)
    tier: Tier


class SubscriptionStarted(SubscriptionCharge):
    """A fan subscribed (period 1 paid from their own wallet; it renews until cancelled)."""

    event_type = "SubscriptionStarted"

    subscription_id: Id
    fan_id: Id
    period: int = Field(ge=1)
    period_start: datetime
    period_end: datetime
    price_version: int = Field(ge=1)
    entitlement: Entitlement


class SubscriptionRenewed(SubscriptionCharge):
    """A period's end renewed the subscription from the fan's wallet (once per period)."""

    event_type = "SubscriptionRenewed"

    subscription_id: Id
    fan_id: Id
    period: int = Field(ge=2)
    period_start: datetime
    period_end: datetime
    entitlement: Entitlement


class GiftedSubscription(BaseModel):
    """One recipient of a subscriptions gift and the one-month subscription they got."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fan_id: Id
    subscription_id: Id
    entitlement: Entitlement


class SubscriptionsGifted(SubscriptionCharge):
    """One fan paid N one-month subscriptions to a creator for N viewers, all at once (one
    debit of N x the price); none of them renews."""

    event_type = "SubscriptionsGifted"

    gift_id: Id
    unit_coins: Coins = Field(gt=0, description="The price of one month")
    price_version: int = Field(ge=1)
    stream_id: Id | None = Field(default=None, description="The stream the viewers watched")
    period_start: datetime
    period_end: datetime
    recipients: tuple[GiftedSubscription, ...] = Field(min_length=1)


class SubscriptionRenewalFailed(Payload):
    """A renewal found the wallet short: the subscription is in its grace period, retried until
    `grace_until`, then lapses."""

    event_type = "SubscriptionRenewalFailed"

    subscription_id: Id
    fan_id: Id
    creator_id: Id
    period: int = Field(ge=2, description="The period the renewal tried to pay")
    coins: Coins = Field(gt=0)
    balance: int
    attempt: int = Field(ge=1)
    grace_until: datetime
    next_attempt_at: datetime


class SubscriptionCancelled(Payload):
    """The fan cancelled: no further renewal, no refund; entitled until `ends_at`."""

    event_type = "SubscriptionCancelled"

    subscription_id: Id
    fan_id: Id
    creator_id: Id
    ends_at: datetime


LapseReason = Literal["grace-expired", "cancelled", "not-renewing", "creator-banned", "fan-banned"]


class SubscriptionLapsed(Payload):
    """The subscription ended: its last paid period is over and it will not renew."""

    event_type = "SubscriptionLapsed"

    subscription_id: Id
    fan_id: Id
    creator_id: Id
    reason: LapseReason
    periods: int = Field(ge=1, description="Periods this subscription paid")
    entitlement: Entitlement
