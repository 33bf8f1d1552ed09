"""Multi-guest rooms, battles and LIVE goals (docs/multi-guest.md).

A room's shares are an event of their own (RoomSharesSet, a new room version each time), so the
shares any gift used are replayable; the gift itself records them (GiftSent v2's recipients).
Battle scores and goal progress are decided by gifting in the transaction of the gifts that
move them, and published as running totals (BattleScored, GoalProgressed: one per battle side or
goal per committed batch), so a read model folds them with MAX in any order; GoalReached is
emitted once per goal, by the gift that crosses its target.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events.base import Payload
from schemas.events.gifting import WHOLE_BP, Recipient
from schemas.text import Id

MAX_RECIPIENTS = 9  # host included


def check_shares(recipients: tuple[Recipient, ...]) -> None:
    """The rule every split follows (GiftSent v2's too): unique creators, 10,000 bp in all."""
    if sum(r.share_bp for r in recipients) != WHOLE_BP:
        raise ValueError(f"recipients' share_bp must sum to {WHOLE_BP}")
    if len({r.creator_id for r in recipients}) != len(recipients):
        raise ValueError("each creator may be a recipient once")


class RoomSharesSet(Payload):
    """The host of a multi-guest room set who shares its gifts, and how: the shares in force
    for every gift to the room until the next version."""

    event_type = "RoomSharesSet"

    room_id: Id
    host_id: Id
    room_version: int = Field(ge=1)
    recipients: tuple[Recipient, ...] = Field(
        min_length=1,
        max_length=MAX_RECIPIENTS,
        description="Host first; shares in basis points sum to 10,000; one entry per creator",
    )

    @model_validator(mode="after")
    def _shares_make_one_gift(self) -> "RoomSharesSet":
        check_shares(self.recipients)
        if self.recipients[0].creator_id != self.host_id:
            raise ValueError("the host is the first recipient")
        return self


GoalMetric = Literal["coins", "gifts"]


class GoalSet(Payload):
    """A creator set a LIVE goal for a stream: `target` coins of gifts, or `target` gifts of
    `gift_code`, sent on the stream before `deadline`."""

    event_type = "GoalSet"

    goal_id: Id
    creator_id: Id
    stream_id: Id
    metric: GoalMetric
    gift_code: Id | None = Field(default=None, description="For metric `gifts`: which gift")
    target: int = Field(gt=0)
    deadline: datetime


class GoalProgressed(Payload):
    """Where a goal stands after the gifts of one commit (a running total: the highest wins)."""

    event_type = "GoalProgressed"

    goal_id: Id
    creator_id: Id
    stream_id: Id
    progress: int = Field(ge=0)
    target: int = Field(gt=0)


class GoalReached(Payload):
    """The gift `gift_id` took the goal to its target (emitted once per goal)."""

    event_type = "GoalReached"

    goal_id: Id
    creator_id: Id
    stream_id: Id
    target: int = Field(gt=0)
    progress: int = Field(gt=0)
    gift_id: Id


class BattleSide(BaseModel):
    """One side of a battle: a creator, or a room (whose gifts count for its host's side)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    side: int = Field(ge=0, le=8)
    host_id: Id
    room_id: Id | None = None


class BattleStarted(Payload):
    """A battle between sides began; gifts to a side's host (or room) in [started_at, ends_at)
    add their coins to that side's score."""

    event_type = "BattleStarted"

    battle_id: Id
    started_by: Id
    sides: tuple[BattleSide, ...] = Field(min_length=2, max_length=MAX_RECIPIENTS)
    started_at: datetime
    ends_at: datetime


class BattleScored(Payload):
    """A side's score after the gifts of one commit (a running total: the highest wins)."""

    event_type = "BattleScored"

    battle_id: Id
    side: int = Field(ge=0, le=8)
    host_id: Id
    score: int = Field(ge=0)


class SideScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    side: int = Field(ge=0, le=8)
    host_id: Id
    score: int = Field(ge=0)


class BattleEnded(Payload):
    """A battle's final scores (the winner is the highest; a tie has none)."""

    event_type = "BattleEnded"

    battle_id: Id
    scores: tuple[SideScore, ...] = Field(min_length=2, max_length=MAX_RECIPIENTS)
    winner_side: int | None = None
    ended_at: datetime
