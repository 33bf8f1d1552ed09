from decimal import Decimal

import pytest

from schemas.money import Money
from services.recharge.pricing import UnknownBundle, convert, load_catalog, round_minor


def test_us_in_app_bundle_is_priced_in_usd_with_the_app_store_fee():
    q = load_catalog().quote("coins_70", "US", "in_app")
    assert (q.coins, q.price, q.settlement) == (70, Money(amount_minor=99, currency="USD"),
                                                Money(amount_minor=99, currency="USD"))
    assert q.fee == Money(amount_minor=30, currency="USD")  # 99 x 0.30 = 29.7 -> 30
    assert q.fx_rate == Decimal(1)


def test_web_is_cheaper_than_in_app():
    catalog = load_catalog()
    for bundle in catalog.raw["bundles"]:
        assert (catalog.quote(bundle, "US", "web").price.amount_minor
                < catalog.quote(bundle, "US", "in_app").price.amount_minor)


def test_uk_price_is_in_gbp_and_settles_in_usd_at_the_recorded_rate():
    q = load_catalog().quote("coins_70", "GB", "in_app")
    assert q.price == Money(amount_minor=89, currency="GBP")
    assert q.fx_rate == Decimal("1.27")
    assert q.settlement == Money(amount_minor=113, currency="USD")  # 89 x 1.27 = 113.03


def test_country_without_own_price_falls_back_to_usd():
    q = load_catalog().quote("coins_1400", "GB", "in_app")
    assert q.price.currency == "USD"


def test_unknown_bundle_is_refused():
    with pytest.raises(UnknownBundle):
        load_catalog().quote("coins_1", "US", "web")


def test_rounding_is_half_even_and_minor_units_follow_iso_4217():
    assert [round_minor(Decimal(x)) for x in ("0.5", "1.5", "2.5", "-0.5")] == [0, 2, 2, 0]
    assert convert(Money(amount_minor=1000, currency="JPY"), Decimal("0.0067"), "USD") == \
        Money(amount_minor=670, currency="USD")
