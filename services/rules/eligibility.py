"""Who may buy, gift, receive and withdraw: the per-country legal age and enabled countries."""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

POLICY_FILE = Path(__file__).with_name("policy.json")


@dataclass(frozen=True)
class Policy:
    version: int
    default_legal_age: int
    legal_age: dict[str, int]
    enabled_countries: frozenset[str]
    ineligible_account_types: frozenset[str]

    def legal_age_in(self, country: str) -> int:
        return self.legal_age.get(country, self.default_legal_age)


@cache
def load_policy(path: Path = POLICY_FILE) -> Policy:
    raw = json.loads(path.read_text())
    return Policy(raw["version"], raw["default_legal_age"], raw["legal_age"],
                  frozenset(raw["enabled_countries"]), frozenset(raw["ineligible_account_types"]))


def age_on(birthdate: date, today: date) -> int:
    """Whole years; someone born on 29 Feb turns a year older on 1 Mar in non-leap years."""
    return today.year - birthdate.year - ((today.month, today.day) < (birthdate.month, birthdate.day))


def refusal(policy: Policy, country: str | None, birthdate: date | None, account_type: str,
            today: date) -> str | None:
    """Why this account may not transact, or None when it may."""
    if not country or country not in policy.enabled_countries:
        return f"country {country or '(unknown)'} is not enabled"
    if account_type in policy.ineligible_account_types:
        return f"{account_type} accounts cannot transact"
    if birthdate is None:
        return "birthdate unknown"
    minimum = policy.legal_age_in(country)
    if age_on(birthdate, today) < minimum:
        return f"must be at least {minimum} in {country}"
    return None
