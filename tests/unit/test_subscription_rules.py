"""The pure subscription decisions: tiers by months, what a due renewal does before and after
the wallet is tried, the creator's share of a charge."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from schemas.events.subscriptions import SubscriptionRenewed
from services.gifting.subscription_rules import (
    Charge,
    Due,
    Lapse,
    NotDue,
    Retry,
    after_short,
    before_debit,
    entitled,
    load_config,
)

CONFIG = load_config()
END = datetime(2030, 5, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def due(**over) -> Due:
    fields = dict(
        status="active",
        auto_renew=True,
        gifted=False,
        period=1,
        period_end=END,
        grace_until=None,
        attempts=0,
    )
    return Due(**{**fields, **over})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("months", "tier"),
    [
        (0, "none"),
        (1, "bronze"),
        (2, "bronze"),
        (3, "silver"),
        (6, "gold"),
        (11, "gold"),
        (12, "platinum"),
        (24, "diamond"),
        (100, "diamond"),
    ],
)
def test_tier_is_the_highest_threshold_reached(months, tier):
    assert CONFIG.tier(months) == tier


def test_the_config_bounds_and_rates():
    assert (CONFIG.min_coins, CONFIG.max_coins) == (100, 100_000)
    assert CONFIG.period == timedelta(days=30) and CONFIG.grace == timedelta(days=3)
    assert CONFIG.creator_share == Decimal("0.5")


def test_not_due_before_the_period_ends():
    assert before_debit(due(), END - HOUR, False, False, CONFIG) == NotDue(END)


def test_on_time_renewal_starts_where_the_period_ended():
    assert before_debit(due(), END + 5 * HOUR, False, False, CONFIG) == Charge(
        2, END, END + CONFIG.period
    )


def test_renewal_in_grace_starts_now():
    now = END + 2 * timedelta(days=1)
    step = before_debit(
        due(status="grace", grace_until=END + CONFIG.grace), now, False, False, CONFIG
    )
    assert step == Charge(2, now, now + CONFIG.period)


@pytest.mark.parametrize(
    ("over", "creator_banned", "fan_banned", "reason"),
    [
        ({"auto_renew": False}, False, False, "cancelled"),
        ({"auto_renew": False, "gifted": True}, False, False, "not-renewing"),
        ({}, True, False, "creator-banned"),
        ({}, False, True, "fan-banned"),
        ({"auto_renew": False}, True, True, "cancelled"),  # cancelled first: no renewal anyway
    ],
)
def test_what_ends_instead_of_renewing(over, creator_banned, fan_banned, reason):
    assert before_debit(due(**over), END, creator_banned, fan_banned, CONFIG) == Lapse(reason)


def test_a_short_wallet_is_retried_within_grace_then_lapses():
    first = after_short(due(), END + HOUR, CONFIG)
    assert first == Retry(1, END + CONFIG.grace, END + HOUR + CONFIG.retry)
    in_grace = due(status="grace", grace_until=END + CONFIG.grace, attempts=1)
    # The last retry is at the grace's end, never after it.
    late = END + CONFIG.grace - HOUR
    assert after_short(in_grace, late, CONFIG) == Retry(2, END + CONFIG.grace, END + CONFIG.grace)
    assert after_short(in_grace, END + CONFIG.grace, CONFIG) == Lapse("grace-expired")


def test_entitled_while_the_paid_period_lasts():
    assert entitled("active", END, END - HOUR)
    assert not entitled("active", END, END)
    assert not entitled("grace", END, END + HOUR)
    assert not entitled("ended", END, END - HOUR)


@pytest.mark.parametrize(
    ("coins", "share", "rate", "creator_coins", "diamonds"),
    [(301, "0.5", "1", 150, 150), (999, "0.7", "1.5", 699, 1048), (1, "0.5", "1", 0, 0)],
)
def test_the_creator_share_of_a_charge(coins, share, rate, creator_coins, diamonds):
    event = SubscriptionRenewed(
        payer_id="fan",
        creator_id="star",
        coins=coins,
        creator_share=Decimal(share),
        diamonds_per_coin=Decimal(rate),
        rates_version=1,
        balance_after=0,
        subscription_id="s",
        fan_id="fan",
        period=2,
        period_start=END,
        period_end=END + CONFIG.period,
        entitlement={"months": 2, "tier": "bronze"},
    )
    assert (event.creator_coins, event.creator_diamonds) == (creator_coins, diamonds)
