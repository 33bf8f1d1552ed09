"""Spending caps by age band and country, as data (spending.json): which band a spender is in,
and what it forbids or caps. Pure: limits_decide applies them to a spend."""

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from policy.eligibility import age_on, local_date

SPENDING_FILE = Path(__file__).with_name("spending.json")
ANY = "any"  # in `forbidden`: every kind of spend


@dataclass(frozen=True)
class Band:
    country: str
    name: str
    min_age: int
    max_age: int | None  # None: no upper bound
    forbidden: frozenset[str]  # spend kinds (ledger kinds: gift, unlock, ...) or "any"
    per_transaction_coins: int | None
    monthly_coins: int | None
    recharge_monthly_minor: int | None  # in the country's price-list currency; 0: no recharge

    @property
    def rule(self) -> str:
        """How a refusal names the band: country and band name."""
        return f"{self.country}/{self.name}"

    def holds(self, age: int) -> bool:
        return self.min_age <= age and (self.max_age is None or age <= self.max_age)

    def forbids(self, kind: str) -> bool:
        return ANY in self.forbidden or kind in self.forbidden


@dataclass(frozen=True)
class SpendingPolicy:
    version: int
    bands: dict[str, tuple[Band, ...]]

    def band_of(self, country: str | None, birthdate: date | None, now: datetime) -> Band | None:
        """The band a spender of `country` born on `birthdate` is in at `now` (age on their
        local calendar day, as the legal age is judged), or None when no band applies."""
        if not country or birthdate is None or country not in self.bands:
            return None
        age = age_on(birthdate, local_date(country, None, now))
        return next((b for b in self.bands[country] if b.holds(age)), None)


def _cap(raw: dict, name: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    return value


def parse(raw: dict) -> SpendingPolicy:
    bands: dict[str, tuple[Band, ...]] = {}
    for country, entries in raw["countries"].items():
        bands[country] = tuple(
            Band(
                country,
                b["name"],
                b.get("min_age", 0),
                b.get("max_age"),
                frozenset(b.get("forbidden", ())),
                _cap(b, "per_transaction_coins"),
                _cap(b, "monthly_coins"),
                _cap(b, "recharge_monthly_minor"),
            )
            for b in entries
        )
    return SpendingPolicy(raw["version"], bands)


@cache
def load_spending_policy(path: Path = SPENDING_FILE) -> SpendingPolicy:
    return parse(json.loads(path.read_text()))
