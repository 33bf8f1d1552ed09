"""The dashboards' day ranges: every absurd range is a typed 409, never an arithmetic error."""

from datetime import date

import pytest

from services.projections.dashboard.ranges import InvalidRange, day_range

TODAY = date(2026, 12, 2)


def test_defaults_count_thirty_days_from_what_is_given():
    assert day_range(None, None, TODAY) == day_range(date(2026, 11, 3), TODAY, TODAY)
    assert day_range(date(2026, 1, 1), None, TODAY).last == date(2026, 1, 30)
    assert day_range(None, date(2026, 1, 30), TODAY).first == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (None, date(1, 1, 1)),  # a default counted back from it would pass date.min
        (date(9999, 12, 31), None),  # ... or forward past date.max
        (date(1999, 12, 31), date(2000, 1, 5)),
        (date(2026, 2, 1), date(2026, 1, 1)),  # reversed
        (date(2024, 1, 1), date(2025, 12, 31)),  # longer than a year
    ],
)
def test_an_absurd_range_is_refused_as_invalid(first, last):
    with pytest.raises(InvalidRange):
        day_range(first, last, TODAY)
