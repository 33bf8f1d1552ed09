"""What the accepted gifts of a batch do to LIVE goals and battles, as pure functions over the
goal and battle-side rows the batch holds locked (goals_store reads and writes them).

Gifts are tallied in arrival order, so the gift that takes a goal from below its target to it
is known: that gift's batch emits GoalReached, and no other can (progress only grows, and the
row is locked from read to commit). A gift counts for a goal when it is sent on the goal's
stream before its deadline; for a battle side when its host (a room gift's room host, or the
creator) is the side's host and it arrives in [started_at, ends_at).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from services.gifting.gift_decide import Accepted


@dataclass(frozen=True)
class Goal:
    goal_id: str
    creator_id: str
    stream_id: str
    metric: str  # coins | gifts
    gift_code: str | None
    target: int
    deadline: datetime
    progress: int
    version: int  # of its last event (GoalSet is 1)

    def amount(self, gift: Accepted) -> int:
        """What the gift adds to this goal (0: it does not count)."""
        command = gift.command
        if command.context_kind != "live" or command.context_id != self.stream_id:
            return 0
        if command.received_at >= self.deadline:
            return 0
        if self.metric == "coins":
            return command.price.coins
        return command.price.quantity if command.price.gift_code == self.gift_code else 0


@dataclass(frozen=True)
class GoalMove:
    """A goal the batch moved: its row after the batch, and the gift that reached it if any."""

    goal: Goal
    reached_by: UUID | None = None


@dataclass(frozen=True)
class Side:
    battle_id: str
    side: int
    host_id: str
    score: int
    version: int  # of its last BattleScored
    started_at: datetime
    ends_at: datetime

    def amount(self, gift: Accepted) -> int:
        host = gift.recipients[0][0] if gift.recipients else gift.command.creator_id
        at = gift.command.received_at
        if host != self.host_id or not self.started_at <= at < self.ends_at:
            return 0
        return gift.command.price.coins


def tally_goals(gifts: list[Accepted], goals: list[Goal]) -> list[GoalMove]:
    running = {g.goal_id: g for g in goals}
    reached: dict[str, UUID] = {}
    for gift in gifts:
        for goal_id, goal in running.items():
            add = goal.amount(gift)
            if not add:
                continue
            after = goal.progress + add
            if goal.progress < goal.target <= after:
                reached[goal_id] = gift.gift_id
            running[goal_id] = replace(goal, progress=after)
    before = {g.goal_id: g.progress for g in goals}
    return [
        GoalMove(g, reached.get(g.goal_id))
        for g in running.values()
        if g.progress != before[g.goal_id]
    ]


def tally_sides(gifts: list[Accepted], sides: list[Side]) -> list[Side]:
    """The sides the batch scored, with their new scores."""
    running = {(s.battle_id, s.side): s for s in sides}
    for gift in gifts:
        for key, side in running.items():
            add = side.amount(gift)
            if add:
                running[key] = replace(side, score=side.score + add)
    before = {(s.battle_id, s.side): s.score for s in sides}
    return [s for k, s in running.items() if s.score != before[k]]
