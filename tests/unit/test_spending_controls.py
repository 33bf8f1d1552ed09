"""Spending controls as pure decisions: a change protecting more is in force at once, one
protecting less after 24 hours; a spend against limits, self-exclusion and the age bands of
policy/spending.json; what one spend leaves for the next of the batch."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from policy.spending import load_spending_policy, parse
from services.gifting.limits_decide import (
    NO_CONTROLS,
    PERIODS,
    Controls,
    Guard,
    Requested,
    Setting,
    Window,
    change,
    window_end,
    window_start,
)
from services.gifting.limits_errors import (
    AgeBandForbidden,
    AgeBandMonthlyCap,
    AgeBandTransactionCap,
    DailyLimitReached,
    MonthlyLimitReached,
    SelfExcluded,
    WeeklyLimitReached,
)
from services.gifting.spend_decide import Debit, Wallet, debit

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday
DAY = timedelta(hours=24)


def ask(day=None, week=None, month=None, until=None) -> Requested:
    return Requested({"day": day, "week": week, "month": month}, until)


# Changes -------------------------------------------------------------------------------------


def test_a_first_limit_and_a_lower_one_are_in_force_at_once():
    c = change(NO_CONTROLS, ask(day=100), T0)
    assert c.limit("day") == Setting(100) and c.version == 1
    c = change(c, ask(day=40), T0 + timedelta(minutes=1))
    assert c.limit("day").in_force(T0 + timedelta(minutes=1)) == 40
    assert c.limit("day").pending_from is None


def test_a_higher_limit_waits_24_hours_and_the_old_one_holds_until_then():
    c = change(change(NO_CONTROLS, ask(day=100), T0), ask(day=500), T0)
    assert c.limit("day") == Setting(100, 500, T0 + DAY)
    assert c.limit("day").in_force(T0 + DAY - timedelta(microseconds=1)) == 100
    assert c.limit("day").in_force(T0 + DAY) == 500


def test_removing_a_limit_waits_24_hours():
    c = change(change(NO_CONTROLS, ask(week=700), T0), ask(), T0)
    assert c.limit("week") == Setting(700, None, T0 + DAY)
    assert c.limit("week").in_force(T0 + timedelta(hours=23)) == 700
    assert c.limit("week").in_force(T0 + DAY) is None


def test_asking_again_for_what_waits_keeps_its_time_and_asking_for_what_is_in_force_cancels():
    c = change(change(NO_CONTROLS, ask(day=100), T0), ask(day=500), T0)
    again = change(c, ask(day=500), T0 + timedelta(hours=5))
    assert again.limit("day") == Setting(100, 500, T0 + DAY)
    cancelled = change(again, ask(day=100), T0 + timedelta(hours=6))
    assert cancelled.limit("day") == Setting(100)
    # a lower limit while a raise waits: in force at once, the raise forgotten
    lower = change(again, ask(day=50), T0 + timedelta(hours=6))
    assert lower.limit("day") == Setting(50)


def test_a_raise_decided_after_a_pending_raise_came_into_force_starts_from_it():
    c = change(change(NO_CONTROLS, ask(day=100), T0), ask(day=500), T0)
    later = change(c, ask(day=900), T0 + DAY + timedelta(hours=1))
    assert later.limit("day") == Setting(500, 900, T0 + DAY + timedelta(hours=1) + DAY)


def test_no_limit_asked_for_no_limit_is_no_change():
    c = change(NO_CONTROLS, ask(), T0)
    assert all(c.limit(p) == Setting() for p in PERIODS)
    assert c.exclusion == Setting()


def test_self_exclusion_longer_at_once_ending_early_or_shortening_after_24_hours():
    until = T0 + timedelta(days=30)
    c = change(NO_CONTROLS, ask(until=until), T0)
    assert c.exclusion == Setting(until)
    longer = change(c, ask(until=until + DAY), T0)
    assert longer.exclusion == Setting(until + DAY)
    ended = change(c, ask(until=None), T0)
    assert ended.exclusion == Setting(until, None, T0 + DAY)
    assert ended.exclusion.in_force(T0 + DAY) is None
    shorter = change(c, ask(until=T0 + timedelta(days=2)), T0)
    assert shorter.exclusion == Setting(until, T0 + timedelta(days=2), T0 + DAY)
    # a time already past is no exclusion; once one has run out, nothing waits to end it
    assert change(NO_CONTROLS, ask(until=T0 - DAY), T0).exclusion == Setting()
    assert change(c, ask(), until + DAY).exclusion == Setting()


# Windows -------------------------------------------------------------------------------------


def test_windows_are_utc_calendar_periods():
    at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert window_start("day", at) == datetime(2026, 12, 31, tzinfo=UTC)
    assert window_start("week", at) == datetime(2026, 12, 28, tzinfo=UTC)  # Monday
    assert window_start("month", at) == datetime(2026, 12, 1, tzinfo=UTC)
    assert window_end("day", window_start("day", at)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert window_end("week", window_start("week", at)) == datetime(2027, 1, 4, tzinfo=UTC)
    assert window_end("month", window_start("month", at)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert window_end("month", datetime(2027, 1, 1, tzinfo=UTC)) == datetime(2027, 2, 1, tzinfo=UTC)


# One spend -----------------------------------------------------------------------------------


def windows(day=0, week=0, month=0) -> dict:
    spent = {"day": day, "week": week, "month": month}
    return {p: Window(p, window_start(p, T0), spent[p]) for p in PERIODS}


def guard(controls: Controls = NO_CONTROLS, band=None, kind="gift", **spent) -> Guard:
    return Guard(kind, T0, controls, band, windows(**spent))


def limits(day=None, week=None, month=None) -> Controls:
    return change(NO_CONTROLS, ask(day, week, month), T0 - DAY)


def test_a_spend_up_to_the_limit_passes_and_one_coin_over_names_the_rule_and_its_reset():
    g = guard(limits(day=100), day=90, week=90, month=90)
    assert g.refusal(10) is None
    refused = g.refusal(11)
    assert isinstance(refused, DailyLimitReached)
    assert refused.extra == {
        "rule": "limit-daily",
        "limit": 100,
        "spent": 90,
        "resets_at": "2026-12-03T00:00:00+00:00",
    }
    assert isinstance(guard(limits(week=50), week=45).refusal(6), WeeklyLimitReached)
    monthly = guard(limits(month=50), month=45).refusal(6)
    assert isinstance(monthly, MonthlyLimitReached)
    assert monthly.extra["resets_at"] == "2027-01-01T00:00:00+00:00"


def test_a_pending_raise_does_not_count_before_its_time():
    c = change(limits(day=100), ask(day=1000), T0 - timedelta(hours=1))
    assert isinstance(guard(c, day=100).refusal(1), DailyLimitReached)
    later = Guard("gift", T0 + DAY, c, None, windows(day=100))
    assert later.refusal(1) is None


def test_self_excluded_refuses_everything_until_its_end():
    c = change(NO_CONTROLS, ask(until=T0 + timedelta(days=3)), T0 - DAY)
    refused = guard(c).refusal(1)
    assert isinstance(refused, SelfExcluded)
    assert refused.extra["resets_at"] == (T0 + timedelta(days=3)).isoformat()
    assert Guard("gift", T0 + timedelta(days=3), c, None, windows()).refusal(1) is None


def test_debit_checks_the_guard_then_the_balance_and_counts_what_it_takes():
    wallets = {"fan": Wallet(1000, 7, guard(limits(day=100)))}
    outcomes = [debit(wallets, "fan", 30) for _ in range(4)]
    assert [getattr(o, "balance", None) for o in outcomes] == [970, 940, 910, None]
    assert isinstance(outcomes[3], DailyLimitReached)
    assert outcomes[3].extra["spent"] == 90
    assert wallets["fan"].version == 10
    # an unguarded wallet (no controls read) spends on its balance alone
    plain = {"fan": Wallet(50, 1)}
    assert isinstance(debit(plain, "fan", 50), Debit)


# Age bands, from data --------------------------------------------------------------------------

BANDS = parse(
    {
        "version": 1,
        "countries": {
            "CN": [{"name": "minor", "min_age": 0, "max_age": 17, "forbidden": ["gift"]}],
            "KR": [
                {
                    "name": "minor",
                    "max_age": 18,
                    "per_transaction_coins": 1000,
                    "monthly_coins": 7000,
                },
                {"name": "adult", "min_age": 19},
            ],
        },
    }
)


def test_the_band_is_chosen_by_country_and_age_on_the_local_day():
    # 17 in CN until their birthday begins in China (T0 is 18:00 on 2 Dec there)
    assert BANDS.band_of("CN", date(2008, 12, 3), T0).name == "minor"
    assert BANDS.band_of("CN", date(2008, 12, 2), T0) is None  # 18 today: no band
    assert BANDS.band_of("KR", date(2000, 1, 1), T0).name == "adult"
    assert BANDS.band_of("US", date(2015, 1, 1), T0) is None
    assert BANDS.band_of("KR", None, T0) is None


def test_no_gifting_for_a_band_that_forbids_it_but_unlocks_pass():
    minor = BANDS.band_of("CN", date(2012, 1, 1), T0)
    refused = guard(band=minor).refusal(1)
    assert isinstance(refused, AgeBandForbidden)
    assert refused.extra == {"rule": "CN/minor", "resets_at": None}
    assert guard(band=minor, kind="unlock").refusal(1) is None


def test_per_transaction_and_monthly_caps_of_a_band():
    minor = BANDS.band_of("KR", date(2010, 1, 1), T0)
    assert guard(band=minor).refusal(1000) is None
    assert isinstance(guard(band=minor).refusal(1001), AgeBandTransactionCap)
    assert guard(band=minor, month=6500).refusal(500) is None
    capped = guard(band=minor, month=6500).refusal(501)
    assert isinstance(capped, AgeBandMonthlyCap)
    assert capped.extra["resets_at"] == "2027-01-01T00:00:00+00:00"
    assert guard(band=BANDS.band_of("KR", date(2000, 1, 1), T0)).refusal(10**6) is None


def test_the_shipped_policy_parses_and_keeps_minors_out_where_the_legal_age_does():
    policy = load_spending_policy()
    assert policy.band_of("CN", date(2012, 1, 1), T0).forbids("gift")
    assert policy.band_of("JP", date(2012, 1, 1), T0).monthly_coins == 3500
    assert policy.band_of("US", date(1990, 1, 1), T0) is None


@pytest.mark.parametrize("cap", [-1, 1.5, "10", True])
def test_a_cap_that_is_not_a_whole_number_of_coins_is_refused_on_load(cap):
    raw = {"version": 1, "countries": {"XX": [{"name": "b", "monthly_coins": cap}]}}
    with pytest.raises(ValueError):
        parse(json.loads(json.dumps(raw)))
