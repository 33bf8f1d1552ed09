"""Subscriptions as pure decisions: the config in force (subscription_config.json, data), badge
tiers by months, and what a due subscription's renewal does. No I/O here: subscription_store
reads the rows and writes what these functions decide."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

CONFIG_FILE = Path(__file__).with_name("subscription_config.json")


@dataclass(frozen=True)
class SubscriptionConfig:
    version: int
    min_coins: int
    max_coins: int
    period: timedelta
    grace: timedelta
    retry: timedelta
    max_gift_recipients: int
    rates_version: int
    creator_share: Decimal
    diamonds_per_coin: Decimal
    tiers: tuple[tuple[str, int], ...]  # (tier, months from which it is held), ascending

    def tier(self, months: int) -> str:
        """The badge tier `months` paid months give: the highest threshold reached."""
        held = "none"
        for tier, threshold in self.tiers:
            if months >= threshold:
                held = tier
        return held


@cache
def load_config(path: Path = CONFIG_FILE) -> SubscriptionConfig:
    raw = json.loads(path.read_text())
    tiers = tuple((t["tier"], int(t["months"])) for t in raw["tiers"])
    if [m for _, m in tiers] != sorted({m for _, m in tiers}):
        raise ValueError("subscription tiers must have ascending, distinct month thresholds")
    return SubscriptionConfig(
        version=raw["version"],
        min_coins=raw["price_bounds"]["min_coins"],
        max_coins=raw["price_bounds"]["max_coins"],
        period=timedelta(days=raw["period_days"]),
        grace=timedelta(days=raw["grace_days"]),
        retry=timedelta(hours=raw["retry_hours"]),
        max_gift_recipients=raw["max_gift_recipients"],
        rates_version=raw["rates"]["version"],
        creator_share=Decimal(raw["rates"]["creator_share"]),
        diamonds_per_coin=Decimal(raw["rates"]["diamonds_per_coin"]),
        tiers=tiers,
    )


Status = Literal["active", "grace", "ended"]


@dataclass(frozen=True)
class Due:
    """A subscription the renewal worker claimed (its row locked)."""

    status: Status
    auto_renew: bool
    gifted: bool
    period: int  # the last period paid
    period_end: datetime
    grace_until: datetime | None
    attempts: int


@dataclass(frozen=True)
class Charge:
    """Try to pay the next period, which starts at `period_start`."""

    period: int
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class Lapse:
    reason: Literal["grace-expired", "cancelled", "not-renewing", "creator-banned", "fan-banned"]


@dataclass(frozen=True)
class Retry:
    """The wallet was short: in grace until `grace_until`, next try at `next_attempt_at`."""

    attempt: int
    grace_until: datetime
    next_attempt_at: datetime


@dataclass(frozen=True)
class NotDue:
    next_attempt_at: datetime


def before_debit(
    due: Due, now: datetime, creator_banned: bool, fan_banned: bool, config: SubscriptionConfig
) -> Charge | Lapse | NotDue:
    """What a claimed subscription does before any coin moves: wait for its period's end; end
    when it does not renew (cancelled, gifted) or may not (a banned creator, a fan banned from
    spending); else charge the next period. A period renewed on time starts where the last one
    ended (no drift when the worker runs late); one renewed in grace starts now (the grace days
    were not paid for)."""
    if now < due.period_end:
        return NotDue(due.period_end)
    if not due.auto_renew:
        return Lapse("not-renewing" if due.gifted else "cancelled")
    if creator_banned:
        return Lapse("creator-banned")
    if fan_banned:
        return Lapse("fan-banned")
    start = due.period_end if due.status == "active" else now
    return Charge(due.period + 1, start, start + config.period)


def after_short(due: Due, now: datetime, config: SubscriptionConfig) -> Retry | Lapse:
    """A renewal the wallet could not cover: the grace period (from the period's end) is
    retried every `retry` hours until it is over, then the subscription lapses."""
    grace_until = due.grace_until or due.period_end + config.grace
    if now >= grace_until:
        return Lapse("grace-expired")
    return Retry(due.attempts + 1, grace_until, min(now + config.retry, grace_until))


def entitled(status: Status, period_end: datetime, now: datetime) -> bool:
    """A subscriber is entitled while the last period paid lasts (in grace it is over)."""
    return status != "ended" and now < period_end
