"""Day ranges a dashboard may ask for: pure checks, so every query is bounded before it runs.

A range is two UTC days, both included. Absurd ones (reversed, longer than MAX_DAYS, outside
the years the platform can have data for) are refused with a typed 409 problem, never run: a
well-formed request the data window refuses, as recharge and payout answer their limits."""

from dataclasses import dataclass
from datetime import date, timedelta

from eventkit.problems import DomainError

MAX_DAYS = 366  # a year, leap day included
DEFAULT_DAYS = 30
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


class InvalidRange(DomainError):
    status, code, title = 409, "invalid-range", "The date range cannot be served"


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def day_range(first: date | None, last: date | None, today: date) -> DayRange:
    """The range asked for, defaulting to the DEFAULT_DAYS days up to `today` (or up to `last`,
    or from `first`). Each day given is checked before a default is counted from it: a day
    near date.min would overflow the arithmetic."""
    for name, value in (("from", first), ("to", last)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise InvalidRange(f"{name}={value} is outside {EARLIEST}..{LATEST}")
    if last is None:
        last = today if first is None else min(first + timedelta(DEFAULT_DAYS - 1), LATEST)
    if first is None:
        first = max(last - timedelta(DEFAULT_DAYS - 1), EARLIEST)
    if last < first:
        raise InvalidRange(f"to={last} is before from={first}")
    span = DayRange(first, last)
    if span.days > MAX_DAYS:
        raise InvalidRange(f"{span.days} days asked for; at most {MAX_DAYS} per request")
    return span
