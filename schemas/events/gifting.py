from decimal import Decimal
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events.base import Payload
from schemas.money import Coins, Rate
from schemas.text import Id, Text

ContextKind = Literal["live", "video", "comment"]


class GiftContext(BaseModel):
    """Where the gift was sent: a LIVE stream, a video or a comment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ContextKind
    id: Id


class GiftFields(Payload):
    """What every version of GiftSent says besides whom the gift is for (each version's own
    schema is frozen under schemas/released/, so sharing these cannot change a released one)."""

    event_type = "GiftSent"

    gift_id: Id
    sender_id: Id
    context: GiftContext
    gift_code: Id
    quantity: int = Field(gt=0)
    unit_price: Coins
    coins: Coins = Field(gt=0, description="quantity x unit_price")
    diamonds_per_coin: Rate = Field(description="Coin->diamond rate in force")
    commission_rate: Rate = Field(description="Platform share of the gift's value")
    rates_version: int
    catalog_version: int
    combo_id: Id | None = None
    combo_count: int = Field(default=1, ge=1)
    balance_after: int


class GiftSent(GiftFields):
    """Coins left the sender's wallet as a gift; the creator earns diamonds at the recorded rate."""

    creator_id: Id


WHOLE_BP = 10_000  # basis points in the whole gift


class Recipient(BaseModel):
    """One creator a gift is for, and their share of it in basis points (10,000 = all of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    creator_id: Id
    share_bp: int = Field(ge=1, le=WHOLE_BP)


class Share(NamedTuple):
    """What one recipient of a gift gets: their part of its coins and of its diamonds."""

    creator_id: str
    share_bp: int
    coins: int
    diamonds: int


def _floor(coins: int, share_bp: int, rate: Decimal) -> int:
    """floor(coins x share_bp / 10,000 x rate), in integers: a Rate is a finite decimal, so its
    exact ratio keeps the product free of Decimal's 28-digit rounding."""
    numerator, denominator = rate.as_integer_ratio()
    return coins * share_bp * numerator // (WHOLE_BP * denominator)


class GiftSentV2(GiftFields):
    """Coins left the sender's wallet as a gift to one or more creators (a multi-guest LIVE:
    the host first, then the guests), each earning diamonds for their share at the recorded
    rate. A v1 GiftSent reads as this with its creator as the only recipient at 10,000 bp."""

    version = 2

    recipients: tuple[Recipient, ...] = Field(
        min_length=1,
        max_length=9,
        description="Host first; shares in basis points sum to 10,000; one entry per creator",
    )

    @model_validator(mode="after")
    def _shares_make_one_gift(self) -> "GiftSentV2":
        if sum(r.share_bp for r in self.recipients) != WHOLE_BP:
            raise ValueError(f"recipients' share_bp must sum to {WHOLE_BP}")
        if len({r.creator_id for r in self.recipients}) != len(self.recipients):
            raise ValueError("each creator may be a recipient once")
        return self

    @property
    def host(self) -> str:
        return self.recipients[0].creator_id

    def split(self) -> tuple[Share, ...]:
        """Each recipient's coins and diamonds: a guest gets floor(coins x share_bp / 10,000)
        coins and floor(coins x share_bp / 10,000 x diamonds_per_coin) diamonds; the host gets
        what rounding leaves, so the parts sum exactly to the gift's coins and to
        floor(coins x diamonds_per_coin), the diamonds a single creator would have earned."""
        rate = self.diamonds_per_coin
        guests = [
            Share(
                r.creator_id,
                r.share_bp,
                self.coins * r.share_bp // WHOLE_BP,
                _floor(self.coins, r.share_bp, rate),
            )
            for r in self.recipients[1:]
        ]
        host = self.recipients[0]
        return (
            Share(
                host.creator_id,
                host.share_bp,
                self.coins - sum(g.coins for g in guests),
                _floor(self.coins, WHOLE_BP, rate) - sum(g.diamonds for g in guests),
            ),
            *guests,
        )


class ContentUnlocked(Payload):
    """Coins left the user's wallet to unlock an item; the owner earns diamonds at the recorded
    rate unless the platform owns the item."""

    event_type = "ContentUnlocked"

    unlock_id: Id
    user_id: Id
    item_id: Id
    owner_id: Id = Field(description="Creator who owns the item, or 'platform'")
    coins: Coins = Field(gt=0)
    diamonds_per_coin: Rate
    commission_rate: Rate
    rates_version: int
    catalog_version: int
    balance_after: int


class ItemListed(Payload):
    """A priced item coins can unlock was registered (or re-priced: a higher item version)."""

    event_type = "ItemListed"

    item_id: Id
    owner_id: Id = Field(description="Creator who owns the item, or 'platform'")
    title: Text
    coins: Coins = Field(gt=0)
    item_version: int = Field(ge=1)
