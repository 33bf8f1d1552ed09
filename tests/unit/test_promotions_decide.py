"""The pure promotion rules: codes (canonical form, hash, generation), whether a campaign may be
redeemed here and now, the discount's rounding, bonus expiry, and the monthly recharge cap of
a minor's age band."""

from datetime import UTC, datetime, timedelta

import pytest

from policy.spending import Band
from schemas.money import Money
from services.recharge.errors import RechargeMonthlyCap
from services.recharge.limits import month_end, month_start, recharge_cap_refusal
from services.recharge.promotions_decide import (
    ALPHABET,
    Campaign,
    canonical,
    code_hash,
    discount_off,
    new_code,
    shared_code_fits,
)
from services.recharge.promotions_errors import (
    CodeExpired,
    CodeNotYetValid,
    CodeWrongCountry,
    CodeWrongKind,
    DiscountTooLarge,
)

T0 = datetime(2026, 12, 15, 12, tzinfo=UTC)


def campaign(**over) -> Campaign:
    fields = dict(
        campaign_id="c-1",
        kind="coupon",
        starts_at=T0 - timedelta(days=1),
        ends_at=T0 + timedelta(days=1),
        countries=None,
        bonus_coins=100,
        discount_bp=None,
        bonus_expires_after_days=None,
    )
    return Campaign(**{**fields, **over})


def test_codes_compare_in_any_case_without_dashes_or_spaces():
    assert canonical(" welcome-10 ") == canonical("WELCOME 10") == "WELCOME10"
    assert code_hash("welcome-10") == code_hash("WELCOME10") != code_hash("WELCOME11")
    assert len(code_hash("WELCOME10")) == 32


def test_generated_codes_are_sixteen_base32_characters_and_never_a_shared_codes_length():
    made = {new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        raw = canonical(code)
        assert len(raw) == 16 and set(raw) <= set(ALPHABET) and code.count("-") == 3
        assert not shared_code_fits(code)  # 16 > 15: a generated code is never a shared one
    assert shared_code_fits("WELCOME10") and not shared_code_fits("AB-C")


def test_a_campaign_is_redeemed_only_its_own_way_in_its_window_and_countries():
    assert campaign().refusal("coupon", "US", T0) is None
    assert isinstance(campaign().refusal("promo_code", "US", T0), CodeWrongKind)
    assert isinstance(campaign(kind="promo_code").refusal("coupon", "US", T0), CodeWrongKind)
    assert isinstance(
        campaign(starts_at=T0 + timedelta(seconds=1)).refusal("coupon", "US", T0), CodeNotYetValid
    )
    assert campaign(starts_at=T0).refusal("coupon", "US", T0) is None  # the window is [start, end)
    assert isinstance(campaign(ends_at=T0).refusal("coupon", "US", T0), CodeExpired)
    local = campaign(countries=("GB", "DE"))
    assert local.refusal("coupon", "GB", T0) is None
    wrong = local.refusal("coupon", "US", T0)
    assert isinstance(wrong, CodeWrongCountry) and "GB, DE" in wrong.detail


def test_bonus_coins_expire_the_campaigns_number_of_days_after_the_grant():
    assert campaign().expires_at(T0) is None
    assert campaign(bonus_expires_after_days=30).expires_at(T0) == T0 + timedelta(days=30)


@pytest.mark.parametrize(
    ("amount", "bp", "off"),
    [
        (3749, 1000, 375),  # 374.9
        (125, 1000, 12),  # 12.5: half-even down
        (135, 1000, 14),  # 13.5: half-even up
        (99, 1, 0),  # 0.0099: nothing off
        (100, 9000, 90),
    ],
)
def test_a_discount_is_rounded_half_even_to_the_minor_unit(amount, bp, off):
    assert discount_off(Money(amount_minor=amount, currency="USD"), bp) == Money(
        amount_minor=off, currency="USD"
    )


def test_a_discount_that_would_leave_nothing_to_pay_is_refused():
    with pytest.raises(DiscountTooLarge):
        discount_off(Money(amount_minor=1, currency="JPY"), 9000)


TEEN = Band("JP", "16-19", 16, 19, frozenset(), None, 7000, 10_000)


def test_a_minors_purchases_fit_the_bands_monthly_recharge_cap_up_to_the_minor_unit():
    assert recharge_cap_refusal(TEEN, 8800, 1200, T0) is None
    refused = recharge_cap_refusal(TEEN, 8800, 1201, T0)
    assert isinstance(refused, RechargeMonthlyCap)
    assert refused.extra == {
        "rule": "JP/16-19",
        "limit": 10_000,
        "spent": 8800,
        "resets_at": "2027-01-01T00:00:00+00:00",
    }
    assert recharge_cap_refusal(None, 10**9, 10**9, T0) is None
    no_cap = Band("KR", "minor", 0, 18, frozenset(), 1000, 7000, None)
    assert recharge_cap_refusal(no_cap, 10**9, 1, T0) is None
    no_buying = Band("CN", "minor", 0, 17, frozenset({"gift"}), None, None, 0)
    assert isinstance(recharge_cap_refusal(no_buying, 0, 1, T0), RechargeMonthlyCap)


def test_the_recharge_month_is_the_utc_calendar_month():
    assert month_start(T0) == datetime(2026, 12, 1, tzinfo=UTC)
    assert month_end(T0) == datetime(2027, 1, 1, tzinfo=UTC)
    assert month_end(datetime(2027, 1, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 2, 1, tzinfo=UTC)
