from decimal import Decimal

from schemas.money import Money
from services.payout.conversion import diamonds_for, diamonds_to_fiat


def test_one_coin_one_diamond_and_fractions_round_down():
    assert diamonds_for(44999, Decimal("1")) == 44999
    assert diamonds_for(5, Decimal("0.5")) == 2


def test_diamonds_to_usd_at_half_a_cent():
    amount, fx = diamonds_to_fiat(2000, Decimal("0.005"), Decimal(1), "USD")
    assert amount == Money(amount_minor=1000, currency="USD") and fx == 1
    assert diamonds_to_fiat(3, Decimal("0.005"), Decimal(1), "USD")[0].amount_minor == 1


def test_payout_in_gbp_records_the_fx_applied():
    amount, fx = diamonds_to_fiat(20000, Decimal("0.005"), Decimal("1.27"), "GBP")
    assert amount == Money(amount_minor=7874, currency="GBP")  # $100 / 1.27 = £78.74
    assert fx == Decimal("0.787401574803")  # 1 / 1.27 to the 12 places an event carries
