"""Pure conversions: coins to diamonds, diamonds to fiat (Decimal, rounded down to whole units)."""

from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rates(_Frozen):
    """The conversion in force; `version` is what a payout request names and records."""

    version: int
    usd_per_diamond: Decimal
    usd_per_unit: dict[str, Decimal]  # US dollars per unit of each payout currency


class ReserveConfig(_Frozen):
    percent: Decimal
    window_hours: float


class WorkerConfig(_Frozen):
    interval_seconds: float
    batch: int


class SandboxConfig(_Frozen):
    outcome: str
    failure_detail: str
    delay_seconds: float


class PayoutConfig(_Frozen):
    """config.json, validated once: typed, exact (Decimal) and immutable."""

    rates: Rates
    minimum_payout_usd_minor: int
    daily_max_usd_minor: int
    review_above_usd_minor: int
    reserve: ReserveConfig
    settle_timeout_seconds: int
    banned_may_withdraw: bool
    worker: WorkerConfig
    sandbox: SandboxConfig


@cache
def load_config(path: Path = CONFIG_FILE) -> PayoutConfig:
    return PayoutConfig.model_validate_json(path.read_text())
