"""What coins are worth in a buyer's money: the real-money equivalent shown beside every price
in coins (gift catalog, gifts, unlocks), as EU consumer law asks of virtual currencies.

Read from recharge's catalog as data (services/recharge/catalog.json, the file recharge sells
from; re-read when it changes): the price list serving the caller's country, and its per-coin
price for a custom amount on the channel (`custom_per_coin`, in minor units per coin). That is
what buying exactly these coins costs the caller, so the equivalent is
coins x per-coin price, in Decimal, rounded half-even to the currency's minor unit, as
recharge rounds a custom amount. The app's channel (`in_app`, the store price) is the default:
it is the dearer one, so the equivalent never understates the cost."""

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Literal

from schemas.money import Money

RECHARGE_CATALOG = Path(__file__).parents[1] / "services" / "recharge" / "catalog.json"
Channel = Literal["in_app", "web"]
DEFAULT_CHANNEL: Channel = "in_app"


@dataclass(frozen=True)
class CoinPrice:
    """The price of one coin to buyers of one price list on one channel."""

    currency: str
    per_coin_minor: Decimal

    def of(self, coins: int) -> Money:
        amount = (Decimal(coins) * self.per_coin_minor).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return Money(amount_minor=int(amount), currency=self.currency)


@dataclass(frozen=True)
class CoinPrices:
    raw: dict

    @property
    def version(self) -> int:
        return self.raw["version"]

    def for_country(self, country: str | None, channel: Channel = DEFAULT_CHANNEL) -> CoinPrice:
        """The per-coin price of the list serving `country` (else the default list)."""
        lists = self.raw["price_lists"]
        plist = next(
            (p for p in lists.values() if country in p.get("countries", ())), lists["default"]
        )
        return CoinPrice(plist["currency"], Decimal(plist["custom_per_coin"][channel]))


_loaded: dict[Path, tuple[int, CoinPrices]] = {}


def load_coin_prices(path: Path = RECHARGE_CATALOG) -> CoinPrices:
    """Re-read when the file changes, as recharge re-reads it, so both show one price."""
    mtime = path.stat().st_mtime_ns
    cached = _loaded.get(path)
    if cached is None or cached[0] != mtime:
        cached = _loaded[path] = (mtime, CoinPrices(json.loads(path.read_text())))
    return cached[1]


def value_of(coins: int, country: str | None, channel: Channel = DEFAULT_CHANNEL) -> Money:
    return load_coin_prices().for_country(country, channel).of(coins)


# How an API field carrying value_of() describes itself.
VALUE_DESCRIPTION = (
    "The coins in the caller's money: coins x recharge's per-coin price (custom amount, in_app)"
    " for the caller's country, rounded half-even to the minor unit"
)
