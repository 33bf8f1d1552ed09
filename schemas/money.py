"""Exact money types shared by payloads: integer minor units with an ISO-4217 code."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# Rates travel as decimal strings so no consumer ever sees a binary float. The published schema
# says what such a string looks like (pydantic's default says only "string").
DECIMAL_PATTERN = r"^\+?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"
Rate = Annotated[
    Decimal,
    Field(ge=0, max_digits=28, decimal_places=12),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DECIMAL_PATTERN},
            ]
        }
    ),
]
RATE_PLACES = Decimal("1e-12")


def recordable(rate: Decimal) -> Decimal:
    """The rate as an event can carry it (a Rate): exact when it fits 12 decimal places, else
    rounded half-even to 12. Amounts must be computed with this recorded rate."""
    exponent = rate.as_tuple().exponent
    if not isinstance(exponent, int):  # "n", "N" or "F": NaN or infinity, no rate at all
        raise ValueError(f"not a finite rate: {rate}")
    return rate.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN) if exponent < -12 else rate


Coins = Annotated[int, Field(ge=0)]


def _json_integer(value: object) -> object:
    """What the published schema calls an integer: a JSON number with no fraction (3749, or
    3749.0, which JSON Schema also calls an integer). A lax int would also take "3749" and
    true, so a payload (a signed webhook, an event) could say its amount as text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON integer")
    return value


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount_minor: Annotated[int, BeforeValidator(_json_integer)] = Field(
        description="Amount in the currency's minor unit (cents, pence, yen)"
    )
    currency: Currency
