from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events.base import Payload
from schemas.money import Coins, Rate
from schemas.text import Id, Text

ContextKind = Literal["live", "video", "comment"]
WHOLE_BP = 10_000  # basis points in the whole gift


def _floor(coins: int, share_bp: int, rate: Decimal) -> int:
    """floor(coins x share_bp / 10,000 x rate), in integers: a Rate is a finite decimal, so its
    exact ratio keeps the product free of Decimal's 28-digit rounding."""
    numerator, denominator = rate.as_integer_ratio()
    return coins * share_bp * numerator // (WHOLE_BP * denominator)


class GiftContext(BaseModel):
    """Where the gift was sent: a LIVE stream, a video or a comment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ContextKind
    id: Id


class LotDraw(BaseModel):
    """Coins a spend took from one bonus lot of the spender's wallet (docs/bonus-lots.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lot_id: Id = Field(description="The lot: the grant_id of its BonusCoinsGranted")
    coins: Coins = Field(gt=0)


def _zero(v: object) -> bool:
    return not v


def _none(v: object) -> bool:
    return v is None


class BonusPart(Payload):
    """What a spend paid from bonus lots (marketing's coins), beside the purchased rest. Optional
    and left out of the JSON when nothing came from a lot, so a spend without bonus coins reads
    and encodes as it did before these fields (schemas/COMPATIBILITY.md: additive)."""

    bonus_coins: Coins = Field(
        default=0, exclude_if=_zero, description="Of `coins`, those taken from bonus lots"
    )
    bonus_diamonds_per_coin: Rate | None = Field(
        default=None,
        exclude_if=_none,
        description="Coin->diamond rate of the bonus coins in force (policy); set with bonus_coins",
    )
    bonus_lots: tuple[LotDraw, ...] = Field(
        default=(), exclude_if=_zero, description="The lots the bonus coins came from, in order"
    )

    if TYPE_CHECKING:  # declared by each subclass, with its own description and bounds
        coins: int
        diamonds_per_coin: Decimal

    @model_validator(mode="after")
    def _bonus_adds_up(self) -> Self:
        if self.bonus_coins > self.coins:
            raise ValueError("bonus_coins cannot exceed coins")
        if self.bonus_coins and self.bonus_diamonds_per_coin is None:
            raise ValueError("bonus_coins need their bonus_diamonds_per_coin")
        if sum(d.coins for d in self.bonus_lots) != self.bonus_coins:
            raise ValueError("bonus_lots must sum to bonus_coins")
        return self

    @property
    def purchased_coins(self) -> int:
        return self.coins - self.bonus_coins

    def earned(self, share_bp: int = WHOLE_BP) -> int:
        """Diamonds `share_bp` of the spend earns: its purchased part at diamonds_per_coin plus its
        bonus part at bonus_diamonds_per_coin, each floored on its own (integers, exact)."""
        return _floor(self.purchased_coins, share_bp, self.diamonds_per_coin) + (
            self.bonus_diamonds(share_bp)
        )

    def bonus_diamonds(self, share_bp: int = WHOLE_BP) -> int:
        """Of those, the diamonds `share_bp` of the bonus part earns."""
        return _floor(self.bonus_coins, share_bp, self.bonus_diamonds_per_coin or Decimal(0))


class GiftFields(BonusPart):
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


class Recipient(BaseModel):
    """One creator a gift is for, and their share of it in basis points (10,000 = all of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    creator_id: Id
    share_bp: int = Field(ge=1, le=WHOLE_BP)


class Share(NamedTuple):
    """What one recipient of a gift gets: their part of its coins and of its diamonds, and of
    those the part of the bonus coins and the diamonds these earned (marketing's money)."""

    creator_id: str
    share_bp: int
    coins: int
    diamonds: int
    bonus_coins: int = 0
    bonus_diamonds: int = 0


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
        coins and, of the purchased and the bonus part each, floor(part x share_bp / 10,000 x
        its rate) diamonds; the host gets what rounding leaves, so the parts sum exactly to the
        gift's coins and to floor(purchased x diamonds_per_coin) + floor(bonus x
        bonus_diamonds_per_coin), the diamonds a single creator would have earned."""
        guests = [
            Share(
                r.creator_id,
                r.share_bp,
                self.coins * r.share_bp // WHOLE_BP,
                self.earned(r.share_bp),
                self.bonus_coins * r.share_bp // WHOLE_BP,
                self.bonus_diamonds(r.share_bp),
            )
            for r in self.recipients[1:]
        ]
        host = self.recipients[0]
        return (
            Share(
                host.creator_id,
                host.share_bp,
                self.coins - sum(g.coins for g in guests),
                self.earned() - sum(g.diamonds for g in guests),
                self.bonus_coins - sum(g.bonus_coins for g in guests),
                self.bonus_diamonds() - sum(g.bonus_diamonds for g in guests),
            ),
            *guests,
        )


class ContentUnlocked(BonusPart):
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
