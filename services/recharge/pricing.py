"""Pure pricing: what a bundle costs in a country and channel, and what the platform settles.

All arithmetic is Decimal on integer minor units; amounts round half-even to the minor unit.
"""

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path

from schemas.money import Money

CATALOG_FILE = Path(__file__).with_name("catalog.json")
# ISO-4217 minor-unit exponents that differ from the usual 2.
MINOR_EXPONENT = {"JPY": 0, "KRW": 0, "IDR": 0}


class UnknownBundle(LookupError):
    pass


class PriceUnavailable(LookupError):
    pass


@dataclass(frozen=True)
class Quote:
    bundle_id: str
    coins: int
    channel: str
    price: Money
    settlement: Money
    fee: Money
    fx_rate: Decimal
    catalog_version: int
    rates_version: int


@dataclass(frozen=True)
class Catalog:
    raw: dict

    @property
    def version(self) -> int:
        return self.raw["version"]

    def currency_for(self, country: str) -> str:
        return self.raw["country_currency"].get(country, self.raw["settlement_currency"])

    def quote(self, bundle_id: str, country: str, channel: str) -> Quote:
        bundle = self.raw["bundles"].get(bundle_id)
        if bundle is None:
            raise UnknownBundle(f"no bundle {bundle_id!r}")
        prices = bundle[channel]
        currency = self.currency_for(country)
        if currency not in prices:
            currency = self.raw["settlement_currency"]
        if currency not in prices:
            raise PriceUnavailable(f"{bundle_id} has no {channel} price in {currency}")
        rates = self.raw["rates"]
        settle_ccy = self.raw["settlement_currency"]
        price = Money(amount_minor=prices[currency], currency=currency)
        fx = Decimal(rates["usd_per_unit"][currency]) / Decimal(rates["usd_per_unit"][settle_ccy])
        settlement = convert(price, fx, settle_ccy)
        fee = Money(amount_minor=round_minor(settlement.amount_minor *
                                             Decimal(rates["fee_rate"][channel])),
                    currency=settle_ccy)
        return Quote(bundle_id, bundle["coins"], channel, price, settlement, fee, fx,
                     self.version, rates["version"])


def round_minor(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def convert(money: Money, rate: Decimal, currency: str) -> Money:
    """money x rate, re-expressed in `currency`'s minor units."""
    shift = MINOR_EXPONENT.get(currency, 2) - MINOR_EXPONENT.get(money.currency, 2)
    return Money(amount_minor=round_minor(Decimal(money.amount_minor) * rate.scaleb(shift)),
                 currency=currency)


@cache
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    return Catalog(json.loads(path.read_text()))
