"""Spending controls as pure decisions: what a user's limits are at an instant, how a change
takes effect, and whether one spend passes them. No I/O here: limits_store reads the rows and
writes what these functions decide.

A change that protects the user more takes effect at once: a lower limit, a new limit, a
longer self-exclusion. One that protects them less waits RAISE_DELAY: a higher limit, removing
one, ending or shortening a self-exclusion. Until then the old setting stays in force and the
new one waits beside it (`pending`, from `pending_from`); a later change decides afresh against
what is in force then.

Spend windows are calendar periods in UTC (a day from 00:00, a week from Monday 00:00, a month
from the 1st): every spender's reset is the same instant, which a refusal can name exactly.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Generic, Literal, TypeVar

from eventkit.problems import DomainError
from policy.spending import Band
from services.gifting.limits_errors import (
    AgeBandForbidden,
    AgeBandMonthlyCap,
    AgeBandTransactionCap,
    DailyLimitReached,
    LimitReached,
    MonthlyLimitReached,
    SelfExcluded,
    WeeklyLimitReached,
)

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
RAISE_DELAY = timedelta(hours=24)
REACHED: dict[Period, type[LimitReached]] = {
    "day": DailyLimitReached,
    "week": WeeklyLimitReached,
    "month": MonthlyLimitReached,
}

T = TypeVar("T", int, datetime)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One rule's value in force (None: none) and what waits to take over, from `pending_from`
    (None: nothing waits; a pending None removes the rule)."""

    value: T | None = None
    pending: T | None = None
    pending_from: datetime | None = None

    def settled(self, now: datetime) -> "Setting[T]":
        """The setting as it stands at `now`: a pending value whose time has come is in force."""
        if self.pending_from is not None and self.pending_from <= now:
            return Setting(self.pending)
        return self

    def in_force(self, now: datetime) -> T | None:
        return self.settled(now).value


@dataclass(frozen=True)
class Controls:
    """A user's spending controls: a limit per period (coins) and a self-exclusion (until)."""

    limits: dict[Period, Setting[int]] = field(default_factory=dict)
    exclusion: Setting[datetime] = field(default_factory=Setting)
    version: int = 0

    def limit(self, period: Period) -> Setting[int]:
        return self.limits.get(period, Setting())

    def settled(self, now: datetime) -> "Controls":
        return Controls(
            {p: self.limit(p).settled(now) for p in PERIODS},
            self.exclusion.settled(now),
            self.version,
        )


NO_CONTROLS = Controls()


@dataclass(frozen=True)
class Requested:
    """What a user asks for (PUT /v1/spending-limits): the whole state, None for 'none'."""

    limits: dict[Period, int | None]
    excluded_until: datetime | None


def _limit_safer(new: int | None, current: int | None) -> bool:
    """Whether `new` protects at least as much as `current` (a lower limit, or a first one)."""
    return new is not None and (current is None or new <= current)


def _exclusion_safer(new: datetime | None, current: datetime | None, now: datetime) -> bool:
    """Whether excluding until `new` protects at least as much as until `current`."""
    current_end = current if current is not None and current > now else now
    new_end = new if new is not None and new > now else now
    return new_end >= current_end


def _changed(setting: Setting[T], new: T | None, safer: bool, now: datetime) -> Setting[T]:
    if safer or new == setting.value:
        return Setting(new)  # in force now; whatever waited is superseded
    if setting.pending_from is not None and setting.pending == new:
        return setting  # asked again for what already waits: its 24 hours keep running
    return Setting(setting.value, new, now + RAISE_DELAY)


def change(controls: Controls, requested: Requested, now: datetime) -> Controls:
    """The controls after `requested` at `now`."""
    settled = controls.settled(now)
    limits = {}
    for p in PERIODS:
        current, new = settled.limit(p), requested.limits.get(p)
        limits[p] = _changed(current, new, _limit_safer(new, current.value), now)
    exclusion = settled.exclusion
    until = requested.excluded_until
    if until is not None and until <= now:
        until = None  # a time already past excludes nothing
    if exclusion.value is not None and exclusion.value <= now:
        exclusion = Setting(None, exclusion.pending, exclusion.pending_from)
    return Controls(
        limits,
        _changed(exclusion, until, _exclusion_safer(until, exclusion.value, now), now),
        controls.version + 1,
    )


# Windows ------------------------------------------------------------------------------------


def window_start(period: Period, at: datetime) -> datetime:
    at = at.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def window_end(period: Period, start: datetime) -> datetime:
    """When the window that began at `start` resets."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Window:
    """What a user has spent in the current window of one period, and when it resets."""

    period: Period
    starts_at: datetime
    spent: int

    @property
    def resets_at(self) -> datetime:
        return window_end(self.period, self.starts_at)


# One spend against the controls ---------------------------------------------------------------


@dataclass(frozen=True)
class Guard:
    """Everything one user's spends in a batch are checked against, read with the wallet
    locked: the controls in force at `at`, the age band, and the windows' running totals (each
    accepted spend adds to them, so the next spend of the batch sees what it left)."""

    kind: str  # the spend's ledger kind (gift, unlock, ...), which a band may forbid
    at: datetime  # when the user's controls and age are judged
    controls: Controls
    band: Band | None
    windows: dict[Period, Window]

    def refusal(self, coins: int) -> DomainError | None:
        """Why spending `coins` now is refused by a control (in this order), or None."""
        until = self.controls.exclusion.in_force(self.at)
        if until is not None and until > self.at:
            return SelfExcluded(until)
        band, month = self.band, self.windows["month"]
        if band is not None:
            if band.forbids(self.kind):
                return AgeBandForbidden(band.rule, self.kind)
            cap = band.per_transaction_coins
            if cap is not None and coins > cap:
                return AgeBandTransactionCap(band.rule, cap, coins)
            cap = band.monthly_coins
            if cap is not None and month.spent + coins > cap:
                return AgeBandMonthlyCap(band.rule, cap, month.spent, coins, month.resets_at)
        for period in PERIODS:
            limit = self.controls.limit(period).in_force(self.at)
            window = self.windows[period]
            if limit is not None and window.spent + coins > limit:
                return REACHED[period](limit, window.spent, coins, window.resets_at)
        return None

    def counted(self, coins: int) -> "Guard":
        return replace(
            self,
            windows={p: replace(w, spent=w.spent + coins) for p, w in self.windows.items()},
        )
