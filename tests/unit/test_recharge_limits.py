"""Velocity limits: sliding windows, their exact edges, and the Retry-After they give."""

from datetime import UTC, datetime, timedelta

import pytest

from services.recharge.limits import (
    DAY,
    HOUR,
    retry_after_header,
    wait_for_count,
    wait_for_spend,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def ago(**kw) -> datetime:
    return NOW - timedelta(**kw)


def test_under_the_count_fits_now():
    assert wait_for_count([], NOW, HOUR, 3) is None
    assert wait_for_count([ago(minutes=5), ago(minutes=1)], NOW, HOUR, 3) is None


def test_at_the_count_waits_until_the_oldest_leaves_the_window():
    times = [ago(minutes=50), ago(minutes=20), ago(minutes=1)]
    assert wait_for_count(times, NOW, HOUR, 3) == 10 * 60
    assert wait_for_count(times + [ago(minutes=10)], NOW, HOUR, 3) == 40 * 60  # two must go


def test_a_purchase_exactly_one_window_old_has_left_it():
    assert wait_for_count([ago(hours=1), ago(minutes=1)], NOW, HOUR, 2) is None
    assert wait_for_count([ago(minutes=59, seconds=59), ago(minutes=1)], NOW, HOUR, 2) == 1


def test_spend_fits_up_to_the_cap_inclusive():
    history = [(ago(hours=3), 60_000)]
    assert wait_for_spend(history, NOW, DAY, 100_000, 40_000) is None
    assert wait_for_spend(history, NOW, DAY, 100_000, 40_001) == 21 * 3600


def test_spend_waits_for_as_many_old_purchases_as_needed():
    history = [(ago(hours=20), 30_000), (ago(hours=10), 30_000), (ago(hours=1), 30_000)]
    assert wait_for_spend(history, NOW, DAY, 100_000, 10_000) is None
    assert wait_for_spend(history, NOW, DAY, 100_000, 40_000) == 4 * 3600
    assert wait_for_spend(history, NOW, DAY, 100_000, 70_000) == 14 * 3600
    assert wait_for_spend(history, NOW, DAY, 100_000, 100_000) == 23 * 3600


def test_spend_outside_the_window_does_not_count():
    assert wait_for_spend([(ago(days=1), 100_000)], NOW, DAY, 100_000, 100_000) is None


def test_an_amount_over_the_cap_can_never_fit():
    with pytest.raises(ValueError):
        wait_for_spend([], NOW, DAY, 100, 101)


@pytest.mark.parametrize(
    "seconds, header", [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (3600.0, "3600")]
)
def test_retry_after_is_whole_seconds_rounded_up(seconds, header):
    assert retry_after_header(seconds) == header
