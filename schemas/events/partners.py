"""Partner platforms: other apps that spend or credit our users' coins (docs/partners.md).

An admin issues a partner its OAuth client (`PartnerClientIssued`) and rotates its secret
(`PartnerSecretRotated`: tokens issued under an older secret version are refused); a user
grants a partner a scoped consent and may revoke it; with one, the partner debits the user's
coins for its own catalog items (`PartnerCoinsDebited`, which records the partner's revenue
share and the diamond rate, so payout credits the partner from the event alone) or credits
coins the user earned on its platform (`PartnerCoinsCredited`). The coin-moving events travel
keyed by the user's wallet stream, as every spend does.
"""

from typing import Literal

from pydantic import Field

from schemas.events.base import Payload
from schemas.money import Coins, Rate
from schemas.text import Id, Text

Scope = Literal["coins:debit", "coins:credit"]
BASIS_POINTS = 10_000


def _floor(amount: int, rate) -> int:
    numerator, denominator = rate.as_integer_ratio()  # exact: a Rate is a finite decimal
    return amount * numerator // denominator


class PartnerClientIssued(Payload):
    """An admin registered a partner and issued its OAuth client (the secret is never in an
    event: it is shown once and stored hashed)."""

    event_type = "PartnerClientIssued"

    partner_id: Id = Field(description="The partner's account, which payout credits")
    client_id: Id
    name: Text = Field(max_length=200)
    scopes: tuple[Scope, ...] = Field(min_length=1)
    revenue_share_bp: int = Field(ge=0, le=BASIS_POINTS, description="Of each debit's coins")
    daily_coins: Coins = Field(gt=0, description="Most coins debited plus credited per UTC day")
    secret_version: int = Field(ge=1)


class PartnerSecretRotated(Payload):
    """The client's secret was replaced: the old one and every token issued under it stop
    working."""

    event_type = "PartnerSecretRotated"

    partner_id: Id
    client_id: Id
    secret_version: int = Field(ge=2)


class PartnerConsentGranted(Payload):
    """A user let a partner move their coins within `scopes` (and `max_coins` debited in all,
    when set)."""

    event_type = "PartnerConsentGranted"

    consent_id: Id
    user_id: Id
    partner_id: Id
    scopes: tuple[Scope, ...] = Field(min_length=1)
    max_coins: Coins | None = Field(default=None, description="null: no cap of its own")


class PartnerConsentRevoked(Payload):
    """The user withdrew the consent: the partner's next operation with it is refused."""

    event_type = "PartnerConsentRevoked"

    consent_id: Id
    user_id: Id
    partner_id: Id


class PartnerCoinsDebited(Payload):
    """A partner debited a user's coins for one of its own catalog items, under a consent."""

    event_type = "PartnerCoinsDebited"

    operation_id: Id
    partner_id: Id
    user_id: Id = Field(description="The wallet debited")
    consent_id: Id
    item_id: Id = Field(description="The partner's own catalog item")
    title: Text = Field(max_length=200)
    coins: Coins = Field(gt=0)
    balance_after: int
    revenue_share_bp: int = Field(ge=0, le=BASIS_POINTS, description="The partner's, in force")
    diamonds_per_coin: Rate = Field(description="Coin->diamond rate for the partner's share")
    rates_version: int = Field(ge=1)

    @property
    def partner_coins(self) -> int:
        """floor(coins x revenue_share_bp / 10,000): the partner's part of the coins."""
        return self.coins * self.revenue_share_bp // BASIS_POINTS

    @property
    def partner_diamonds(self) -> int:
        """floor(partner_coins x diamonds_per_coin): what payout credits the partner."""
        return _floor(self.partner_coins, self.diamonds_per_coin)


class PartnerCoinsCredited(Payload):
    """A partner credited a user coins earned on its platform, under a consent."""

    event_type = "PartnerCoinsCredited"

    operation_id: Id
    partner_id: Id
    user_id: Id = Field(description="The wallet credited")
    consent_id: Id
    reference: Id = Field(description="The partner's reference for the reward")
    reason: Text = Field(max_length=200)
    coins: Coins = Field(gt=0)
    balance_after: int
