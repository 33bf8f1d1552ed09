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
