"""Pricing from the catalog data: per-country price lists, channels, custom amounts, FX and fee
rounding (half-even, on integer minor units, ISO-4217 exponents)."""

import json
import os
from decimal import Decimal

import pytest

from schemas.money import Money
from services.recharge.pricing import (
    AmountOutOfRange,
    UnknownBundle,
    convert,
    fx_rate,
    load_catalog,
    round_minor,
)


def usd(minor: int) -> Money:
    return Money(amount_minor=minor, currency="USD")


def test_us_in_app_bundle_is_priced_in_usd_with_the_app_store_fee():
    q = load_catalog().quote("coins_70", "US", "in_app")
    assert (q.coins, q.price, q.settlement) == (70, usd(99), usd(99))
    assert q.fee == usd(30)  # 99 x 0.30 = 29.7 -> 30
    assert (q.fx_rate, q.fee_rate, q.price_list) == (Decimal(1), Decimal("0.30"), "default")
    assert (q.catalog_version, q.rates_version) == (2, 2)


def test_web_is_cheaper_than_in_app_in_every_price_list():
    catalog = load_catalog()
    for name, plist in catalog.raw["price_lists"].items():
        for bundle_id, b in plist["bundles"].items():
            assert b["web"] < b["in_app"], f"{name}/{bundle_id}"
            assert b["web"] <= round_minor(Decimal(b["in_app"]) * Decimal("0.80"))


def test_uk_price_is_in_gbp_and_settles_in_usd_at_the_recorded_rate():
    q = load_catalog().quote("coins_65", "GB", "in_app")
    assert q.price == Money(amount_minor=89, currency="GBP")
    assert q.fx_rate == Decimal("1.27")
    assert q.settlement == usd(113)  # 89 x 1.27 = 113.03
    assert q.fee == usd(34)  # 113 x 0.30 = 33.9


def test_a_country_buys_only_from_its_own_price_list():
    catalog = load_catalog()
    with pytest.raises(UnknownBundle, match="GB"):
        catalog.quote("coins_70", "GB", "web")  # UK bundles are 65, 330, ...
    assert catalog.quote("coins_70", "DE", "web").price == Money(amount_minor=74, currency="EUR")
    # Countries without a list of their own buy from the default (USD) one.
    assert catalog.quote("coins_70", "BR", "web").price == usd(74)


def test_zero_decimal_currencies_convert_with_their_exponent():
    jp = load_catalog().quote("coins_350", "JP", "in_app")
    assert jp.price == Money(amount_minor=800, currency="JPY")
    assert jp.settlement == usd(536)  # 800 yen x 0.0067 = 5.36 USD
    kr = load_catalog().quote("coins_70", "KR", "web")
    assert kr.settlement == usd(76)  # 1050 won x 0.00072 = 0.756 USD -> 76 cents


def test_custom_amount_is_priced_per_coin_and_capped():
    catalog = load_catalog()
    q = catalog.quote_custom(1000, "US", "web")
    assert (q.bundle_id, q.coins, q.price) == ("custom", 1000, usd(1070))
    low, high = catalog.custom_range
    assert (low, high) == (30, 500_000)
    assert catalog.quote_custom(high, "US", "in_app").price == usd(715_000)
    for coins in (low - 1, high + 1, 0, -5):
        with pytest.raises(AmountOutOfRange):
            catalog.quote_custom(coins, "US", "web")


def test_custom_price_rounds_half_even_to_the_minor_unit():
    catalog = load_catalog()
    # 30 x 1.07 = 32.1 -> 32 ; 150 x 1.07 = 160.5 -> 160 (half-even) ; 250 x 1.07 = 267.5 -> 268
    assert [catalog.quote_custom(c, "US", "web").price.amount_minor for c in (30, 150, 250)] == [
        32,
        160,
        268,
    ]


def test_unknown_bundle_is_refused():
    with pytest.raises(UnknownBundle):
        load_catalog().quote("coins_1", "US", "web")


def test_rounding_is_half_even_and_minor_units_follow_iso_4217():
    assert [round_minor(Decimal(x)) for x in ("0.5", "1.5", "2.5", "-0.5")] == [0, 2, 2, 0]
    assert convert(Money(amount_minor=1000, currency="JPY"), Decimal("0.0067"), "USD") == usd(670)
    assert convert(usd(100), Decimal("150"), "JPY") == Money(amount_minor=150, currency="JPY")


def test_fx_rate_is_exact_or_cut_to_twelve_places():
    assert fx_rate({"USD": "1", "GBP": "1.27"}, "GBP", "USD") == Decimal("1.27")
    assert fx_rate({"USD": "1", "EUR": "3"}, "USD", "EUR") == Decimal("0.333333333333")


def test_an_edited_catalog_file_is_picked_up_with_its_new_version(tmp_path):
    raw = dict(load_catalog().raw)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(raw))
    assert load_catalog(path).version == 2
    raw = {**raw, "version": 3}
    path.write_text(json.dumps(raw))
    os.utime(path, ns=(1, 10**18))  # a different mtime, whatever the clock's resolution
    assert load_catalog(path).version == 3
