"""Spending controls a user sets on their own wallet (services/gifting/spending_limits.py)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.base import Payload
from schemas.money import Coins
from schemas.text import Id


class CoinLimit(BaseModel):
    """One spend limit: what is in force and what waits to be (a raise or a removal waits
    24 hours; a lowering is in force at once)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coins: Coins | None = Field(description="In force; null: no limit")
    pending_coins: Coins | None = Field(
        default=None, description="Takes over at pending_from; null there: the limit is removed"
    )
    pending_from: datetime | None = Field(default=None, description="null: nothing pending")


class SelfExclusion(BaseModel):
    """No spending at all until `until`; ending it early (or shortening it) waits 24 hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    until: datetime | None = Field(description="In force; null (or past): not excluded")
    pending_until: datetime | None = None
    pending_from: datetime | None = Field(default=None, description="null: nothing pending")


class SpendingLimitsChanged(Payload):
    """A user changed their spending controls; the state after the change, per rule."""

    event_type = "SpendingLimitsChanged"

    user_id: Id
    daily: CoinLimit
    weekly: CoinLimit
    monthly: CoinLimit
    self_exclusion: SelfExclusion
