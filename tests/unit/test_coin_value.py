"""The real-money equivalent of coins: recharge's per-coin price for the caller's price list,
exact Decimal, rounded half-even to the currency's minor unit."""

from decimal import Decimal

import pytest

from policy.coin_value import CoinPrice, load_coin_prices, value_of
from schemas.money import Money


@pytest.mark.parametrize(
    ("coins", "country", "channel", "amount", "currency"),
    [
        (3000, "US", "in_app", 4290, "USD"),  # 3000 x 1.43 cents
        (3000, "US", "web", 3210, "USD"),  # 3000 x 1.07
        (1, "US", "in_app", 1, "USD"),  # 1.43 -> 1
        (5, "GB", "in_app", 7, "GBP"),  # 6.85 -> 7
        (1000, "DE", "in_app", 1430, "EUR"),
        (1, "JP", "in_app", 2, "JPY"),  # 2.3 yen -> 2 (no minor unit)
        (5, "JP", "in_app", 12, "JPY"),  # 11.5 -> 12 (half to even)
        (15, "JP", "in_app", 34, "JPY"),  # 34.5 -> 34 (half to even)
        (3, "KR", "web", 45, "KRW"),
        (10, "BR", "in_app", 14, "USD"),  # no list of its own: the default list
    ],
)
def test_coins_in_the_callers_money(coins, country, channel, amount, currency):
    assert value_of(coins, country, channel) == Money(amount_minor=amount, currency=currency)


def test_the_per_coin_price_is_recharges_custom_amount_price_read_as_data():
    prices = load_coin_prices()
    raw = prices.raw["price_lists"]["GB"]["custom_per_coin"]["in_app"]
    assert prices.for_country("GB") == CoinPrice("GBP", Decimal(raw))


def test_halves_round_to_even_and_nothing_is_lost_to_floats():
    price = CoinPrice("USD", Decimal("0.1"))
    assert price.of(5).amount_minor == 0  # 0.5 -> 0
    assert price.of(15).amount_minor == 2  # 1.5 -> 2
    assert price.of(10**12).amount_minor == 10**11
