"""Strict HTTP field types for bodies and query parameters.

FastAPI validates a JSON body in pydantic's Python mode, where a lax `int` takes "2000", 2000.0
and true, and a lax `datetime` takes 0.5 (as a Unix time). A money or count field must say
exactly what the OpenAPI document says, so these types refuse everything else with a 422:

* `Count`: a body integer that is a JSON number with no fraction (2000, or 2000.0, which JSON
  Schema also calls an integer), never a string ("2000"), a boolean or 2000.5.
* `query_int(ge, le)`: a query integer written as plain decimal digits ("5", not "5.0", " 5",
  "5_000"), within bounds the OpenAPI document shows: `Annotated[int, *query_int(1, 50)]`.
* `Instant`: an RFC 3339 date-time with an offset, given as a string (never a number, never a
  naive time that PostgreSQL would read in its own zone), in UTC. RFC 3339 allows offsets up
  to 23:59, so 0001-01-01T00:00:00+23:59 is valid yet earlier than any Python datetime in UTC:
  such an instant is clamped to the first (or last) one, which any comparison treats alike.
* `Reason`: free text (like schemas.text.Text: no NUL) with at least one visible character.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
)

from schemas.text import BLANK


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON integer")
    return value


Count = Annotated[int, BeforeValidator(_number)]

_DIGITS = re.compile(r"^[0-9]{1,18}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
    r"([Zz]|[+-]\d{2}:\d{2})$"
)


def _digits(value: Any) -> Any:
    if isinstance(value, str) and not _DIGITS.match(value):
        raise ValueError("must be a whole number written in digits")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be a whole number")
    return value


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-26T08:00:00Z")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def query_int(ge: int, le: int) -> tuple[object, ...]:
    """The metadata of a query integer, unpacked into `Annotated[int, ...]` (a call is no type to
    a type checker, so the metadata is returned rather than the annotated type). The bounds come
    before the digits check: that order keeps them in the document as minimum/maximum (after a
    validator, FastAPI would print them as unknown keys)."""
    return Field(ge=ge, le=le), BeforeValidator(_digits)


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]


# Text with at least one character that is neither whitespace nor a control character, said as
# a pattern so the OpenAPI document tells clients (and generators) what is accepted.
Reason = Annotated[str, StringConstraints(pattern=rf"^[^\x00]*[^{BLANK}][^\x00]*$")]
