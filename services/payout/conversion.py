"""Pure conversions: coins to diamonds, diamonds to fiat (Decimal, rounded down to whole units)."""

import json
from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path

from schemas.money import Money, recordable

CONFIG_FILE = Path(__file__).with_name("config.json")


def diamonds_for(coins: int, diamonds_per_coin: Decimal) -> int:
    """Whole diamonds a gift earns; fractions go to the platform, never to rounding up."""
    return int((Decimal(coins) * diamonds_per_coin).to_integral_value(rounding=ROUND_DOWN))


def diamonds_to_fiat(
    diamonds: int, usd_per_diamond: Decimal, usd_per_unit: Decimal, currency: str
) -> tuple[Money, Decimal]:
    """The payout amount in `currency` minor units (rounded down) and the FX rate applied
    (as recorded on the event, so the amount can be recomputed from it)."""
    fx = recordable(Decimal(1) / usd_per_unit)
    minor = (Decimal(diamonds) * usd_per_diamond * fx * 100).to_integral_value(rounding=ROUND_DOWN)
    return Money(amount_minor=int(minor), currency=currency), fx


@cache
def load_config(path: Path = CONFIG_FILE) -> dict:
    return json.loads(path.read_text())
