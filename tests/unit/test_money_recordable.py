"""schemas.money.recordable: what an event can carry of a rate."""

from decimal import Decimal

import pytest

from schemas.money import recordable


def test_a_rate_within_twelve_places_is_kept_exactly():
    assert recordable(Decimal("0.005")) == Decimal("0.005")


def test_a_longer_rate_is_rounded_half_even_to_twelve_places():
    assert recordable(Decimal("0.0000000000125")) == Decimal("0.000000000012")


@pytest.mark.parametrize("rate", ["NaN", "sNaN", "Infinity"])
def test_a_non_finite_rate_is_refused_by_name(rate):
    with pytest.raises(ValueError, match="not a finite rate"):
        recordable(Decimal(rate))
