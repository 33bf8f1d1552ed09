"""Who may buy, gift, receive and withdraw: the per-country legal age and enabled countries."""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

POLICY_FILE = Path(__file__).with_name("policy.json")
# The earliest calendar day anywhere on Earth is UTC-12's: used for a country with no known zone.
_FURTHEST_BEHIND = timedelta(hours=-12)


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
    return Policy(
        raw["version"],
        raw["default_legal_age"],
        raw["legal_age"],
        frozenset(raw["enabled_countries"]),
        frozenset(raw["ineligible_account_types"]),
    )


@cache
def country_zones(country: str | None) -> frozenset[str]:
    """The IANA zones of a country (ISO 3166 alpha-2), from the `tzdata` package's zone.tab, so
    the answer does not depend on the host's tz database."""
    return _zone_table().get(country or "", frozenset())


@cache
def _zone_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, zone = line.split("\t")[:3]
            table.setdefault(code, set()).add(zone)
    return {code: frozenset(zones) for code, zones in table.items()}


def local_date(country: str | None, timezone: str | None, now: datetime) -> date:
    """The calendar day it is for a person under `country`'s law at the instant `now`.

    The account's own timezone counts when it is known and one of the country's zones. Else the
    country's zone whose calendar is furthest behind at that instant (in practice its
    westernmost): nobody anywhere in the country passes an age check before their birthday has
    begun where they are. A country with no known zone gets the earliest day on Earth (UTC-12)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # Every zone's offset today is a whole number of minutes, so the answer holds for the whole
    # minute: cached per minute, a gift storm does not convert into ~30 US zones per check.
    return _local_date(country, timezone, now.astimezone(UTC).replace(second=0, microsecond=0))


@lru_cache(maxsize=4096)
def _local_date(country: str | None, timezone: str | None, minute: datetime) -> date:
    zones = country_zones(country)
    if timezone in zones:
        return minute.astimezone(_zone(timezone)).date()
    if not zones:
        return (minute + _FURTHEST_BEHIND).date()
    return min(minute.astimezone(_zone(zone)).date() for zone in zones)


@cache
def _zone(name: str) -> ZoneInfo:
    """Held for good: ZoneInfo keeps only a few zones strongly and re-reads the others' files."""
    return ZoneInfo(name)


def age_on(birthdate: date, today: date) -> int:
    """Whole years; someone born on 29 Feb turns a year older on 1 Mar in non-leap years."""
    return (
        today.year - birthdate.year - ((today.month, today.day) < (birthdate.month, birthdate.day))
    )


def refusal(
    policy: Policy,
    country: str | None,
    birthdate: date | None,
    account_type: str,
    now: datetime,
    timezone: str | None = None,
) -> str | None:
    """Why this account may not transact at the instant `now`, or None when it may. Age is
    judged on the account's local calendar day (local_date)."""
    if not country or country not in policy.enabled_countries:
        return f"country {country or '(unknown)'} is not enabled"
    if account_type in policy.ineligible_account_types:
        return f"{account_type} accounts cannot transact"
    if birthdate is None:
        return "birthdate unknown"
    minimum = policy.legal_age_in(country)
    if age_on(birthdate, local_date(country, timezone, now)) < minimum:
        return f"must be at least {minimum} in {country}"
    return None
