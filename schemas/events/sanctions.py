"""Transaction bans: placed and lifted by the recharge service (admin API, moderation topic,
fraud chargebacks) on the sanctions topic; every service enforces the scopes that concern it."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.events.base import Payload

# buy: purchase coins · gift: send gifts / unlock · receive: receive gifts, earn diamonds ·
# payout: withdraw · account: a permanent platform ban (blocks everything; withdrawing remaining
# earnings stays allowed when the payout policy says so).
BanScope = Literal["buy", "gift", "receive", "payout", "account"]


class TransactionBanPlaced(Payload):
    event_type = "TransactionBanPlaced"

    ban_id: str
    user_id: str
    scopes: list[BanScope] = Field(min_length=1)
    reason: str
    source: Literal["admin", "moderation", "fraud"]
    expires_at: datetime | None = Field(default=None, description="None = until lifted")


class TransactionBanLifted(Payload):
    event_type = "TransactionBanLifted"

    ban_id: str
    user_id: str
    reason: str
    source: Literal["admin", "moderation"]


class PlaceTransactionBan(Payload):
    """Command from the moderation service (topic coinstream.moderation.commands): recharge
    records the ban and announces it with TransactionBanPlaced. `ban_id` is moderation's own id,
    so a repeated command places one ban."""

    event_type = "PlaceTransactionBan"

    ban_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    scopes: list[BanScope] = Field(min_length=1)
    reason: str = Field(max_length=500)
    expires_at: datetime | None = Field(default=None, description="None = until lifted")


class LiftTransactionBan(Payload):
    """Command from the moderation service: lift a ban (TransactionBanLifted follows)."""

    event_type = "LiftTransactionBan"

    ban_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    reason: str = Field(max_length=500)
