"""Pure payout rules: reserve, UTC day boundaries, cap, review, bans, callback signatures."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.payout.conversion import load_config
from services.payout.domain import (
    ActiveBan,
    Reserve,
    ban_refusal,
    below_minimum,
    hold_for,
    over_daily_cap,
    payout_day,
    requires_review,
)
from services.payout.provider import sign, signature_ok

T = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_hold_rounds_down_and_releases_after_the_window():
    r = Reserve(Decimal("10"), timedelta(hours=168))
    assert hold_for(1999, r, T) == (199, T + timedelta(days=7))
    assert hold_for(9, r, T) == (0, None)  # 0.9 rounds to nothing held
    assert hold_for(100, Reserve(Decimal("0"), timedelta(days=7)), T) == (0, None)
    assert hold_for(100, Reserve(Decimal("100"), timedelta(0)), T) == (0, None)
    assert hold_for(100, Reserve(Decimal("100"), timedelta(days=1)), T)[0] == 100


def test_payout_day_is_the_utc_calendar_day_on_both_sides_of_midnight():
    before, after = datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)
    assert (payout_day(before), payout_day(after)) == (before.date(), after.date())
    # 01:30 in UTC+2 is still the previous UTC day
    assert (
        payout_day(datetime(2025, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))))
        == before.date()
    )
    with pytest.raises(ValueError):
        payout_day(datetime(2025, 3, 2))


def test_daily_cap_minimum_and_review_thresholds_are_inclusive_where_they_should_be():
    cfg = load_config()
    cap = cfg.daily_max_usd_minor
    assert cap == 100_000  # $1,000 a day by default
    assert not over_daily_cap(cap - 1000, 1000, cap) and over_daily_cap(cap - 999, 1000, cap)
    assert below_minimum(999, 1000) and not below_minimum(1000, 1000)
    assert not requires_review(50_000, 50_000) and requires_review(50_001, 50_000)


def test_ban_rules_payout_ban_suspension_and_permanent_ban_policy():
    until = T + timedelta(days=3)
    assert ban_refusal([], True) is None
    assert ban_refusal([ActiveBan(frozenset({"gift", "buy"}), None)], False) is None
    assert "banned" in ban_refusal([ActiveBan(frozenset({"payout"}), until)], True)
    assert "suspended" in ban_refusal([ActiveBan(frozenset({"account"}), until)], True)
    assert ban_refusal([ActiveBan(frozenset({"account"}), None)], True) is None
    assert ban_refusal([ActiveBan(frozenset({"account"}), None)], False) == "account is banned"


def test_signature_covers_every_byte_of_the_body():
    body = b'{"payout_id": "x", "outcome": "completed"}'
    good = sign("s" * 32, body)
    assert signature_ok("s" * 32, body, good)
    assert not signature_ok("s" * 32, body + b" ", good)
    assert not signature_ok("t" * 32, body, good)
    assert not signature_ok("s" * 32, body, None)
