"""Fan levels (a creator's fan club), as pure functions of a (fan, creator) pair's gift history
and the day: no I/O, no clock. Gifting (fan_levels_store, inside the gift batch) and the
projections (services/projections/fan_levels.py, from the topic) fold the same history with
these functions, so a rebuild equals live.

The rules (docs/live-events.md, "Fan levels"):
- a fan earns POINTS_PER_COIN points per coin of a gift's part that goes to the creator (a
  multi-guest gift gives each recipient's fans points for that recipient's share of the coins);
- days are UTC days of the gift events' own times;
- each UTC day that ends without a gift to the creator takes DECAY_PERCENT of the points
  (rounded down, day by day);
- after LAPSE_DAYS whole days without a gift the membership lapses: the points are gone, and
  the next gift starts again from zero;
- the level is the number of LEVELS thresholds the points reach (0: not a member).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from schemas.events.gifting import GiftSentV2

POINTS_PER_COIN = 1
DECAY_PERCENT = 5
LAPSE_DAYS = 7
# Level n from LEVELS[n - 1] points on: level 1 from the first coin, level 5 from 2,500.
LEVELS = (1, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000)


@dataclass(frozen=True)
class FanPoints:
    """A pair's state: its points on `last_day` (the day of its latest gift), that day's gifts
    included. Everything later follows from it and the day asked about."""

    points: int
    last_day: date


def day_of(at: datetime) -> date:
    """The UTC day of an instant: the day a gift counts on (its event's time)."""
    return at.astimezone(UTC).date()


def decayed(points: int, days: int) -> int:
    """`points` after `days` days without a gift, each taking DECAY_PERCENT (rounded down)."""
    for _ in range(days):
        points = points * (100 - DECAY_PERCENT) // 100
    return points


def _idle_days(state: FanPoints, day: date) -> int:
    """Whole days that ended without a gift between the last gift's day and `day`."""
    return max(0, (day - state.last_day).days - 1)


def lapsed(state: FanPoints, day: date) -> bool:
    return _idle_days(state, day) >= LAPSE_DAYS


def points_on(state: FanPoints | None, day: date) -> int:
    """The pair's points on `day` (on or after its last gift's day)."""
    if state is None or lapsed(state, day):
        return 0
    return decayed(state.points, _idle_days(state, day))


def after_gifts(state: FanPoints | None, day: date, coins: int) -> FanPoints:
    """The state after `coins` more coins gifted on `day`. A day before the last one (a gift
    whose event time is earlier than one already counted) counts as that last day."""
    if state is not None and day <= state.last_day:
        return FanPoints(state.points + coins * POINTS_PER_COIN, state.last_day)
    return FanPoints(points_on(state, day) + coins * POINTS_PER_COIN, day)


def fold(days: Iterable[tuple[date, int]], state: FanPoints | None = None) -> FanPoints | None:
    """The state after gifts of (day, coins), in day order, from `state` (None: no gift yet).
    A day's coins may come in several parts: the result is the same."""
    for day, coins in sorted(days):
        state = after_gifts(state, day, coins)
    return state


def level(points: int) -> int:
    return sum(points >= threshold for threshold in LEVELS)


def level_on(state: FanPoints | None, day: date) -> int:
    return level(points_on(state, day))


def gift_parts(data: dict) -> list[tuple[str, int]]:
    """(creator, coins) of each recipient's part of a GiftSent's `data` (v1: its one creator;
    v2: GiftSentV2.split, the host's part taking the rounding), read from the event's data as
    the batch built it, without validating it again."""
    recipients = data.get("recipients")
    if recipients is None:
        return [(data["creator_id"], data["coins"])]
    if len(recipients) == 1:
        return [(recipients[0]["creator_id"], data["coins"])]
    return [(s.creator_id, s.coins) for s in GiftSentV2.model_validate(data).split()]
