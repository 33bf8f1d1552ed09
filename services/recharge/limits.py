"""Pure purchase limits: how long until one more purchase fits a sliding window, and the
monthly recharge cap of a minor's age band.

Both limits look back over a window ending now (a purchase exactly one window old has left
it): at most N purchase attempts per hour, and at most a settlement amount per 24 hours. The
answer is None (it fits now) or the seconds to wait, which the API sends as Retry-After.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from policy.spending import Band
from services.recharge.errors import RechargeMonthlyCap

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    purchases_per_hour: int
    spend_per_day_minor: int  # in the settlement currency


def wait_for_count(
    times: list[datetime], now: datetime, window: timedelta, maximum: int
) -> float | None:
    recent = sorted(t for t in times if t > now - window)
    if len(recent) < maximum:
        return None
    # One more fits once len(recent) - maximum + 1 of them have left the window.
    leaving = recent[len(recent) - maximum]
    return (leaving + window - now).total_seconds()


def wait_for_spend(
    history: list[tuple[datetime, int]], now: datetime, window: timedelta, cap: int, amount: int
) -> float | None:
    """`amount` must itself be within `cap` (the caller refuses it outright otherwise)."""
    if amount > cap:
        raise ValueError(f"{amount} can never fit under a cap of {cap}")
    recent = sorted((t, a) for t, a in history if t > now - window)
    total = sum(a for _, a in recent)
    if total + amount <= cap:
        return None
    for at, spent in recent:  # oldest first: they leave the window in this order
        total -= spent
        if total + amount <= cap:
            return (at + window - now).total_seconds()
    raise AssertionError("unreachable: an empty window fits any amount <= cap")


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1 (RFC 9110 delay-seconds)."""
    return str(max(1, int(-(-seconds // 1))))


# Recharge caps by age band (policy/spending.json `recharge_monthly_minor`) -------------------


def month_start(now: datetime) -> datetime:
    """The calendar month (UTC) `now` is in starts here; the caps count purchases since."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_end(now: datetime) -> datetime:
    return (month_start(now) + timedelta(days=32)).replace(day=1)


def recharge_cap_refusal(band: Band | None, spent: int, amount: int, now: datetime):
    """RechargeMonthlyCap when a purchase of `amount` (minor units of the price list's
    currency) would take this month's purchases of `spent` over the band's cap, else None."""
    cap = band.recharge_monthly_minor if band is not None else None
    if band is None or cap is None or spent + amount <= cap:
        return None
    return RechargeMonthlyCap(band.rule, cap, spent, amount, month_end(now))
