from datetime import UTC, date, datetime

import pytest

from policy.eligibility import load_policy
from services.gifting.catalog import GiftUnavailable, load_catalog
from services.gifting.rules import Profile, earner_refusal, recipient_refusal


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


NOON = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "profile, ok",
    [
        (Profile("US", date(1990, 1, 1), "creator"), True),
        (Profile("US", date(2010, 1, 1), "creator"), False),
        (Profile("KR", date(2008, 1, 1), "creator"), False),  # 18, but 19 needed in Korea
        (Profile("US", date(1990, 1, 1), "political"), False),
        (Profile("ZZ", date(1990, 1, 1), "creator"), False),
        (None, False),
    ],
)
def test_recipient_eligibility(profile, ok):
    assert (recipient_refusal(load_policy(), profile, NOON) is None) is ok
    if profile is not None:  # listing an item, being paid for an unlock: the same rules
        assert (earner_refusal(load_policy(), profile, NOON) is None) is ok
