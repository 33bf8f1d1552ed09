"""The gift catalog and the rates in force, loaded from catalog.json (data, versioned)."""

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

CATALOG_FILE = Path(__file__).with_name("catalog.json")


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
    def commission_rate(self) -> Decimal:
        return Decimal(self.raw["rates"]["commission_rate"])

    def price(self, gift_code: str, quantity: int) -> GiftPrice | None:
        gift = self.raw["gifts"].get(gift_code)
        if gift is None:
            return None
        return GiftPrice(gift_code, gift["coins"], quantity, gift["coins"] * quantity)


@cache
def load_catalog(path: Path = CATALOG_FILE) -> GiftCatalog:
    return GiftCatalog(json.loads(path.read_text()))
