"""The one rule every service applies to a country code a caller names (a query, a body): its
shape is schemas.money.Country (ISO 3166 alpha-2, upper case: 'usa' or 'us' is a validation
error), and it must be one of the policy's enabled countries (else 422 country-not-served).

`ServedCountry` is the type of such a parameter: its OpenAPI schema is the enum of the enabled
countries, so a client (or a fuzzer) sees which codes are answered; the route still calls
`served()`, which refuses any other well-formed code with the typed 422 the enum promises."""

from typing import Annotated

from pydantic import WithJsonSchema

from eventkit.problems import DomainError
from policy.eligibility import load_policy
from schemas.money import Country


class CountryNotServed(DomainError):
    status, code, title = 422, "country-not-served", "Coinstream does not serve this country"


def served(country: str) -> str:
    """`country`, when the policy enables it."""
    if country not in load_policy().enabled_countries:
        raise CountryNotServed(f"{country} is not an enabled country")
    return country


ServedCountry = Annotated[
    Country,
    WithJsonSchema(
        {
            "type": "string",
            "enum": sorted(load_policy().enabled_countries),
            "description": "ISO 3166 alpha-2 code of a country Coinstream serves "
            "(any other code: 422 country-not-served)",
        }
    ),
]
