from datetime import UTC, date, datetime, timedelta

import pytest

from policy.eligibility import age_on, load_policy, local_date, refusal

# Noon UTC: the same calendar day in every zone of every enabled country.
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "country, born, ok",
    [
        ("US", date(2008, 11, 25), True),  # 18 today
        ("US", date(2008, 11, 26), False),  # 18 tomorrow
        ("KR", date(2007, 11, 25), True),  # 19 today
        ("KR", date(2007, 11, 26), False),
        ("JP", date(2006, 11, 25), True),  # 20 today
        ("JP", date(2007, 1, 1), False),  # 19 is not enough in Japan
    ],
)
def test_legal_age_per_country_on_boundary_birthdays(country, born, ok):
    assert (refusal(load_policy(), country, born, "personal", NOW) is None) is ok


def test_leap_day_birthday_ages_on_first_of_march():
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


@pytest.mark.parametrize("country", [None, "", "ZZ", "KP"])
def test_unknown_or_disabled_country_is_refused(country):
    assert "not enabled" in refusal(load_policy(), country, date(1990, 1, 1), "personal", NOW)


def test_missing_birthdate_and_ineligible_account_types_are_refused():
    policy = load_policy()
    assert refusal(policy, "US", None, "personal", NOW) == "birthdate unknown"
    assert "government" in refusal(policy, "US", date(1990, 1, 1), "government", NOW)


# --- the local calendar day (local_date) -----------------------------------------------------


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, day",
    [
        (utc(2026, 11, 24, 14, 59), date(2026, 11, 24)),  # 23:59 in Seoul
        (utc(2026, 11, 24, 15, 0), date(2026, 11, 25)),  # midnight in Seoul, still the 24th in UTC
        (utc(2026, 11, 24, 19, 0), date(2026, 11, 25)),
    ],
)
def test_a_single_zone_country_uses_its_zone(now, day):
    assert local_date("KR", None, now) == day


@pytest.mark.parametrize(
    "now, day",
    [
        # 08:00 UTC is midnight in Los Angeles but 22:00 the day before in Honolulu and Adak.
        (utc(2026, 11, 25, 8, 0), date(2026, 11, 24)),
        (utc(2026, 11, 25, 9, 59), date(2026, 11, 24)),  # 23:59 in Honolulu
        (utc(2026, 11, 25, 10, 0), date(2026, 11, 25)),  # midnight in Honolulu, the last US zone
    ],
)
def test_a_multi_zone_country_uses_the_day_furthest_behind(now, day):
    assert local_date("US", None, now) == day


def test_the_accounts_own_zone_counts_only_inside_the_country():
    now = utc(2026, 11, 25, 5, 0)  # midnight in New York
    assert local_date("US", "America/New_York", now) == date(2026, 11, 25)
    assert local_date("US", "Asia/Seoul", now) == date(2026, 11, 24)  # not a US zone
    assert local_date("US", "Not/AZone", now) == date(2026, 11, 24)
    assert local_date("US", None, now) == date(2026, 11, 24)


def test_daylight_saving_time_moves_the_boundary():
    # 14 July: New York is UTC-4, so its midnight is 04:00 UTC.
    assert local_date("US", "America/New_York", utc(2026, 7, 14, 3, 59)) == date(2026, 7, 13)
    assert local_date("US", "America/New_York", utc(2026, 7, 14, 4, 0)) == date(2026, 7, 14)


def test_a_country_without_known_zones_gets_the_earliest_day_on_earth():
    assert local_date("ZZ", None, utc(2026, 11, 25, 11, 59)) == date(2026, 11, 24)
    assert local_date(None, None, utc(2026, 11, 25, 12, 0)) == date(2026, 11, 25)


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        local_date("US", None, datetime(2026, 11, 25, 12))


def test_korean_19th_birthday_counts_from_midnight_in_seoul():
    born, policy = date(2007, 11, 25), load_policy()
    assert refusal(policy, "KR", born, "personal", utc(2026, 11, 24, 19, 0)) is None
    assert refusal(policy, "KR", born, "personal", utc(2026, 11, 24, 14, 59)) is not None


def test_us_18th_birthday_does_not_pass_early_anywhere_in_the_country():
    born, policy = date(2008, 11, 25), load_policy()
    eight_hours_before_la_midnight = utc(2026, 11, 25, 8, 0) - timedelta(hours=8)
    assert refusal(policy, "US", born, "personal", eight_hours_before_la_midnight) is not None
    assert refusal(policy, "US", born, "personal", utc(2026, 11, 25, 9, 59)) is not None
    assert refusal(policy, "US", born, "personal", utc(2026, 11, 25, 10, 0)) is None
    assert (
        refusal(
            policy, "US", born, "personal", utc(2026, 11, 25, 5, 0), timezone="America/New_York"
        )
        is None
    )
