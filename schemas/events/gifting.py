from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.base import Payload
from schemas.money import Coins, Rate
from schemas.text import Id, Text

ContextKind = Literal["live", "video", "comment"]


class GiftContext(BaseModel):
    """Where the gift was sent: a LIVE stream, a video or a comment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ContextKind
    id: Id


class GiftSent(Payload):
    """Coins left the sender's wallet as a gift; the creator earns diamonds at the recorded rate."""

    event_type = "GiftSent"

    gift_id: Id
    sender_id: Id
    creator_id: Id
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
