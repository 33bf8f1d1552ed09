"""Pure pricing: what coins cost in a country and channel, and what the platform settles.

The catalog is data (catalog.json, versioned; re-read when the file changes): price lists in a
local currency, each serving some countries, with a `default` list for every other country.
A list sells its bundles and a custom amount of coins (between the catalog's min and max) at a
per-coin price. All arithmetic is Decimal on integer minor units, rounding half-even to the
minor unit; the FX rate, fee rate and versions used travel with the quote onto the events.
"""

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from schemas.events.recharge import Channel
from schemas.money import Money, recordable

CATALOG_FILE = Path(__file__).with_name("catalog.json")
CUSTOM = "custom"  # bundle_id recorded for a custom amount
# ISO-4217 minor-unit exponents that differ from the usual 2.
MINOR_EXPONENT = {"JPY": 0, "KRW": 0, "IDR": 0}


class UnknownBundle(LookupError):
    pass


class AmountOutOfRange(ValueError):
    pass


@dataclass(frozen=True)
class Quote:
    bundle_id: str
    coins: int
    channel: Channel
    price: Money
    settlement: Money
    fee: Money
    fx_rate: Decimal
    fee_rate: Decimal
    catalog_version: int
    rates_version: int
    price_list: str


@dataclass(frozen=True)
class Offer:
    bundle_id: str
    coins: int
    price: Money


@dataclass(frozen=True)
class Catalog:
    raw: dict

    @property
    def version(self) -> int:
        return self.raw["version"]

    @property
    def settlement_currency(self) -> str:
        return self.raw["settlement_currency"]

    @property
    def custom_range(self) -> tuple[int, int]:
        return self.raw["custom"]["min_coins"], self.raw["custom"]["max_coins"]

    def price_list_for(self, country: str | None) -> tuple[str, dict]:
        """The list serving `country`, else the default list."""
        for name, plist in self.raw["price_lists"].items():
            if country in plist.get("countries", ()):
                return name, plist
        return "default", self.raw["price_lists"]["default"]

    def currency_for(self, country: str | None) -> str:
        return self.price_list_for(country)[1]["currency"]

    def offers(self, country: str | None, channel: Channel) -> list[Offer]:
        _, plist = self.price_list_for(country)
        return [
            Offer(bundle_id, b["coins"], Money(amount_minor=b[channel], currency=plist["currency"]))
            for bundle_id, b in plist["bundles"].items()
        ]

    def quote(self, bundle_id: str, country: str | None, channel: Channel) -> Quote:
        name, plist = self.price_list_for(country)
        bundle = plist["bundles"].get(bundle_id)
        if bundle is None:
            raise UnknownBundle(
                f"no bundle {bundle_id!r} for sale in {country or 'your country'}"
                f" (price list {name})"
            )
        price = Money(amount_minor=bundle[channel], currency=plist["currency"])
        return self._settle(bundle_id, bundle["coins"], channel, price, name)

    def quote_custom(self, coins: int, country: str | None, channel: Channel) -> Quote:
        low, high = self.custom_range
        if not low <= coins <= high:
            raise AmountOutOfRange(f"a custom amount must be {low}..{high} coins, not {coins}")
        name, plist = self.price_list_for(country)
        per_coin = Decimal(plist["custom_per_coin"][channel])
        price = Money(
            amount_minor=max(1, round_minor(coins * per_coin)), currency=plist["currency"]
        )
        return self._settle(CUSTOM, coins, channel, price, name)

    def discounted(self, quote: Quote, off: Money) -> Quote:
        """`quote` with `off` taken off its price, settled afresh (settlement and fee follow
        the price actually charged)."""
        price = Money(
            amount_minor=quote.price.amount_minor - off.amount_minor, currency=off.currency
        )
        return self._settle(quote.bundle_id, quote.coins, quote.channel, price, quote.price_list)

    def _settle(
        self, bundle_id: str, coins: int, channel: Channel, price: Money, price_list: str
    ) -> Quote:
        rates = self.raw["rates"]
        settle_ccy = self.settlement_currency
        fx = fx_rate(rates["usd_per_unit"], price.currency, settle_ccy)
        settlement = convert(price, fx, settle_ccy)
        fee_rate = Decimal(rates["fee_rate"][channel])
        fee = Money(
            amount_minor=round_minor(settlement.amount_minor * fee_rate), currency=settle_ccy
        )
        return Quote(
            bundle_id,
            coins,
            channel,
            price,
            settlement,
            fee,
            fx,
            fee_rate,
            self.version,
            rates["version"],
            price_list,
        )


def fx_rate(usd_per_unit: dict[str, str], charge: str, settle: str) -> Decimal:
    """Settlement units per charge unit, exact when it fits 12 decimal places."""
    return recordable(Decimal(usd_per_unit[charge]) / Decimal(usd_per_unit[settle]))


def round_minor(amount: Decimal) -> int:
    return int(Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def convert(money: Money, rate: Decimal, currency: str) -> Money:
    """money x rate, re-expressed in `currency`'s minor units."""
    shift = MINOR_EXPONENT.get(currency, 2) - MINOR_EXPONENT.get(money.currency, 2)
    return Money(
        amount_minor=round_minor(Decimal(money.amount_minor) * rate.scaleb(shift)),
        currency=currency,
    )


_loaded: dict[Path, tuple[int, Catalog]] = {}


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """The catalog in `path`, re-read when the file changes (a price change needs no restart;
    each purchase records the version it used)."""
    mtime = path.stat().st_mtime_ns
    cached = _loaded.get(path)
    if cached is None or cached[0] != mtime:
        cached = _loaded[path] = (mtime, Catalog(json.loads(path.read_text())))
    return cached[1]
