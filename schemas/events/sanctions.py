"""Transaction bans: placed and lifted by the recharge service (admin API, moderation topic,
fraud chargebacks) on the sanctions topic; every service enforces the scopes that concern it."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.events.base import Payload
from schemas.text import Id, LongId, Text

# buy: purchase coins · gift: send gifts / unlock · receive: receive gifts, earn diamonds ·
# payout: withdraw · account: a permanent platform ban (blocks everything; withdrawing remaining
# earnings stays allowed when the payout policy says so).
BanScope = Literal["buy", "gift", "receive", "payout", "account"]
BanSource = Literal["admin", "moderation", "fraud"]
LiftSource = Literal["admin", "moderation"]


class TransactionBanPlaced(Payload):
    event_type = "TransactionBanPlaced"

    ban_id: LongId = Field(description="Recharge's ban id (moderation's own under a `mod-` prefix)")
    user_id: Id
    scopes: list[BanScope] = Field(min_length=1)
    reason: Text
    source: BanSource
    expires_at: datetime | None = Field(default=None, description="None = until lifted")


class TransactionBanLifted(Payload):
    event_type = "TransactionBanLifted"

    ban_id: LongId
    user_id: Id
    reason: Text
    source: LiftSource


class PlaceTransactionBan(Payload):
    """Command from the moderation service (topic coinstream.moderation.commands): recharge
    records the ban and announces it with TransactionBanPlaced. `ban_id` is moderation's own id,
    so a repeated command places one ban."""

    event_type = "PlaceTransactionBan"

    ban_id: Id
    user_id: Id
    scopes: list[BanScope] = Field(min_length=1)
    reason: Text = Field(max_length=500)
    expires_at: datetime | None = Field(default=None, description="None = until lifted")


class LiftTransactionBan(Payload):
    """Command from the moderation service: lift a ban (TransactionBanLifted follows)."""

    event_type = "LiftTransactionBan"

    ban_id: Id
    user_id: Id
    reason: Text = Field(max_length=500)
