"""Promotions (services/recharge/promotions*.py): campaigns, their codes, and what redeeming
one gives. All travel on the recharge topic.

Streams: a campaign's own events on `campaign-<id>` (CampaignCreated v1, then one
PromoCodesIssued per batch); a user's redemptions on `promo-<user>` (PromoRedeemed, and
BonusCoinsGranted when the reward is coins), so one user's grants stay in order. A code on a
purchase is redeemed in the transaction that completes the purchase (beside CoinPurchased): a
failed purchase redeems nothing and grants nothing.

The codes themselves are never on an event: a code is a bearer credential worth coins and the
topics are kept forever and read widely. Only the shared code of a campaign, printed on its
posters anyway, is recorded (CampaignCreated.shared_code)."""

from datetime import datetime
from typing import Literal, Self

from pydantic import Field, model_validator

from schemas.events.base import Payload
from schemas.money import Coins, Country, Money
from schemas.text import Id, Text

# A purchase code rides on a purchase (bonus coins or a discount); a coupon is redeemed alone
# and gives bonus coins with no purchase.
CampaignKind = Literal["promo_code", "coupon"]
GrantSource = CampaignKind


class CampaignCreated(Payload):
    """An admin created a promotion campaign: when and where its codes work, how many times,
    and what one redemption gives (exactly one of bonus_coins and discount_bp; a coupon
    campaign gives bonus_coins)."""

    event_type = "CampaignCreated"

    campaign_id: Id
    name: Text
    kind: CampaignKind
    starts_at: datetime
    ends_at: datetime
    countries: tuple[Country, ...] | None = Field(
        description="Countries whose users may redeem; null: every country"
    )
    max_redemptions: int = Field(gt=0, description="Campaign-wide cap on redemptions")
    per_user_limit: int = Field(gt=0, description="Redemptions one user may make")
    bonus_coins: Coins | None = Field(default=None, gt=0, description="Coins one redemption gives")
    discount_bp: int | None = Field(
        default=None, ge=1, le=9000, description="Price discount in basis points (purchase codes)"
    )
    bonus_expires_after_days: int | None = Field(
        default=None, gt=0, description="Bonus coins expire this many days after the grant"
    )
    shared_code: Text | None = Field(
        default=None, description="The campaign's shared code (upper case), if it has one"
    )
    created_by: Id

    @model_validator(mode="after")
    def _one_reward(self) -> Self:
        if (self.bonus_coins is None) == (self.discount_bp is None):
            raise ValueError("give exactly one of bonus_coins and discount_bp")
        if self.kind == "coupon" and self.bonus_coins is None:
            raise ValueError("a coupon gives bonus_coins")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class PromoCodesIssued(Payload):
    """A batch of single-use codes was generated for a campaign. Only their number: the codes
    went once to the admin who asked, and recharge keeps only their hashes."""

    event_type = "PromoCodesIssued"

    campaign_id: Id
    batch_id: Id
    count: int = Field(gt=0)
    issued_by: Id


class PromoRedeemed(Payload):
    """A code or coupon was redeemed (one use of the campaign's caps): what it gave. A purchase
    code's redemption is recorded when its purchase completes."""

    event_type = "PromoRedeemed"

    redemption_id: Id
    campaign_id: Id
    user_id: Id
    country: Country
    source: GrantSource
    single_use: bool = Field(description="A single-use code (else the campaign's shared code)")
    purchase_id: Id | None = Field(default=None, description="The purchase the code rode on")
    grant_id: Id | None = Field(default=None, description="The BonusCoinsGranted it gave")
    bonus_coins: Coins = Field(description="Coins granted (0 for a discount)")
    discount: Money | None = Field(
        default=None, description="Taken off the price, in the charge currency"
    )
    discount_settlement: Money | None = Field(
        default=None, description="What the discount cost, in the settlement currency"
    )


class BonusCoinsGranted(Payload):
    """Bonus coins for the user's wallet, a lot of their own (tagged, maybe expiring), paid by
    marketing rather than by the fan."""

    event_type = "BonusCoinsGranted"

    grant_id: Id = Field(description="Unique; the lot's id in the wallet")
    user_id: Id
    coins: Coins = Field(gt=0)
    campaign_id: Id
    source: GrantSource
    purchase_id: Id | None = Field(default=None, description="The purchase the code rode on")
    expires_at: datetime | None = None
