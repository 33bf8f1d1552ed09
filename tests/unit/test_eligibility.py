from datetime import date

import pytest

from services.rules.eligibility import age_on, load_policy, refusal

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("country, born, ok", [
    ("US", date(2008, 11, 25), True),    # 18 today
    ("US", date(2008, 11, 26), False),   # 18 tomorrow
    ("KR", date(2007, 11, 25), True),    # 19 today
    ("KR", date(2007, 11, 26), False),
    ("JP", date(2006, 11, 25), True),    # 20 today
    ("JP", date(2007, 1, 1), False),     # 19 is not enough in Japan
])
def test_legal_age_per_country_on_boundary_birthdays(country, born, ok):
    assert (refusal(load_policy(), country, born, "personal", TODAY) is None) is ok


def test_leap_day_birthday_ages_on_first_of_march():
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.parametrize("country", [None, "", "ZZ", "KP"])
def test_unknown_or_disabled_country_is_refused(country):
    assert "not enabled" in refusal(load_policy(), country, date(1990, 1, 1), "personal", TODAY)


def test_missing_birthdate_and_ineligible_account_types_are_refused():
    policy = load_policy()
    assert refusal(policy, "US", None, "personal", TODAY) == "birthdate unknown"
    assert "government" in refusal(policy, "US", date(1990, 1, 1), "government", TODAY)
