from datetime import UTC, date, datetime, timedelta

import pytest

from services.gifting.catalog import GiftUnavailable, load_catalog
from services.gifting.rules import Combo, Profile, next_combo, recipient_refusal
from services.rules.eligibility import load_policy

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
WINDOW = timedelta(seconds=10)


def test_first_gift_starts_a_combo():
    combo = next_combo(None, T0, WINDOW, 3)
    assert combo.count == 3 and combo.last_at == T0


def test_same_gift_within_the_window_continues_the_combo():
    first = next_combo(None, T0, WINDOW, 1)
    second = next_combo(first, T0 + WINDOW, WINDOW, 9)  # exactly at the edge still counts
    assert (second.combo_id, second.count) == (first.combo_id, 10)


def test_a_pause_longer_than_the_window_starts_a_new_combo():
    first = next_combo(None, T0, WINDOW, 5)
    later = next_combo(first, T0 + WINDOW + timedelta(microseconds=1), WINDOW, 1)
    assert later.combo_id != first.combo_id and later.count == 1


def test_combo_window_is_measured_from_the_last_gift_not_the_first():
    c = next_combo(None, T0, WINDOW, 1)
    for step in range(1, 6):
        c = next_combo(c, T0 + step * timedelta(seconds=8), WINDOW, 1)
    assert c.count == 6 and isinstance(c, Combo)


def test_prices_and_batch_quantities():
    catalog = load_catalog()
    assert catalog.price("lion", 1, "US").coins == 29999
    assert catalog.price("universe", 2, "US").coins == 89998
    assert catalog.price("rose", 999, "US").coins == 999


def test_region_limited_gift_is_only_sold_in_its_regions():
    catalog = load_catalog()
    assert catalog.price("maple_leaf", 1, "CA").coins == 10
    with pytest.raises(GiftUnavailable):
        catalog.price("maple_leaf", 1, "US")
    with pytest.raises(GiftUnavailable):
        catalog.price("no_such_gift", 1, "US")


@pytest.mark.parametrize("profile, ok", [
    (Profile("US", date(1990, 1, 1), "creator"), True),
    (Profile("US", date(2010, 1, 1), "creator"), False),
    (Profile("KR", date(2008, 1, 1), "creator"), False),   # 18, but 19 needed in Korea
    (Profile("US", date(1990, 1, 1), "political"), False),
    (Profile("ZZ", date(1990, 1, 1), "creator"), False),
    (None, False),
])
def test_recipient_eligibility(profile, ok):
    assert (recipient_refusal(load_policy(), profile, date(2026, 11, 25)) is None) is ok
