"""Pure payout rules: the reserve on a credit, the UTC day a request counts against, the daily
cap, the minimum, review, and what a ban means for withdrawing. No I/O; `now` is passed in so
tests can stand on either side of midnight."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from services.payout.conversion import ReserveConfig


@dataclass(frozen=True)
class Reserve:
    percent: Decimal
    window: timedelta

    @classmethod
    def from_config(cls, raw: ReserveConfig) -> "Reserve":
        return cls(raw.percent, timedelta(hours=raw.window_hours))


def hold_for(diamonds: int, reserve: Reserve, earned_at: datetime) -> tuple[int, datetime | None]:
    """Diamonds held back from a credit (rounded down: the creator never loses to rounding) and
    when they are released. No window or no percentage means nothing is held."""
    if reserve.window <= timedelta(0) or reserve.percent <= 0:
        return 0, None
    held = int((Decimal(diamonds) * reserve.percent / 100).to_integral_value(rounding=ROUND_DOWN))
    held = min(held, diamonds)
    return (held, earned_at + reserve.window) if held else (0, None)


def payout_day(now: datetime) -> date:
    """The day a request counts against for the daily maximum: the UTC calendar day."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).date()


def below_minimum(usd_minor: int, minimum_usd_minor: int) -> bool:
    return usd_minor < minimum_usd_minor


def minimum_diamonds(minimum_usd_minor: int, usd_per_diamond: Decimal) -> int:
    """The fewest diamonds worth the minimum at this rate (amounts round down, so round up)."""
    return int(
        (Decimal(minimum_usd_minor) / (usd_per_diamond * 100)).to_integral_value(
            rounding=ROUND_CEILING
        )
    )


def over_daily_cap(already_usd_minor: int, usd_minor: int, cap_usd_minor: int) -> bool:
    return already_usd_minor + usd_minor > cap_usd_minor


def requires_review(usd_minor: int, review_above_usd_minor: int) -> bool:
    return usd_minor > review_above_usd_minor


@dataclass(frozen=True)
class ActiveBan:
    scopes: frozenset[str]
    expires_at: datetime | None


def ban_refusal(bans: list[ActiveBan], banned_may_withdraw: bool) -> str | None:
    """Why active bans stop a withdrawal, or None. A `payout` ban always does. An `account` ban
    with an end date is a suspension and does; a permanent one (no end) does unless the policy
    lets banned creators withdraw what they already earned."""
    for ban in bans:
        if "payout" in ban.scopes:
            return "payouts are banned for this account"
        if "account" in ban.scopes:
            if ban.expires_at is not None:
                return f"account suspended until {ban.expires_at.isoformat()}"
            if not banned_may_withdraw:
                return "account is banned"
    return None
