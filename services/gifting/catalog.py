"""The gift catalog and the rates in force, loaded from catalog.json (data, versioned)."""

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

CATALOG_FILE = Path(__file__).with_name("catalog.json")


class GiftUnavailable(LookupError):
    """The gift does not exist, or not in the sender's region."""


@dataclass(frozen=True)
class GiftPrice:
    gift_code: str
    unit_price: int
    quantity: int
    coins: int


@dataclass(frozen=True)
class GiftCatalog:
    raw: dict

    @property
    def version(self) -> int:
        return self.raw["version"]

    @property
    def rates_version(self) -> int:
        return self.raw["rates"]["version"]

    @property
    def diamonds_per_coin(self) -> Decimal:
        return Decimal(self.raw["rates"]["diamonds_per_coin"])

    @property
    def bonus_diamonds_per_coin(self) -> Decimal:
        """What a coin from a bonus lot earns its creator (marketing's money, not the fan's):
        recorded on each spend that took bonus coins (docs/bonus-lots.md)."""
        return Decimal(self.raw["rates"].get("bonus_diamonds_per_coin", "0"))

    @property
    def commission_rate(self) -> Decimal:
        return Decimal(self.raw["rates"]["commission_rate"])

    @property
    def combo_window_seconds(self) -> float:
        return self.raw["combo_window_seconds"]

    def available_in(self, country: str | None) -> dict[str, dict]:
        return {
            code: g
            for code, g in self.raw["gifts"].items()
            if "regions" not in g or country in g["regions"]
        }

    def min_fan_level(self, gift_code: str) -> int:
        """The fan level a sender needs with the creator to send this gift (0: anyone)."""
        return self.raw["gifts"].get(gift_code, {}).get("min_fan_level", 0)

    def price(self, gift_code: str, quantity: int, country: str | None) -> GiftPrice:
        gift = self.raw["gifts"].get(gift_code)
        if gift is None:
            raise GiftUnavailable(f"no gift {gift_code!r}")
        if gift_code not in self.available_in(country):
            raise GiftUnavailable(f"gift {gift_code!r} is not available in {country}")
        return GiftPrice(gift_code, gift["coins"], quantity, gift["coins"] * quantity)


@cache
def load_catalog(path: Path = CATALOG_FILE) -> GiftCatalog:
    return GiftCatalog(json.loads(path.read_text()))
