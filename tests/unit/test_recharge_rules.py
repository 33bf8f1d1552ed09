"""Recharge's pure rules: who may buy (per-country legal age on boundary birthdays, leap days,
unknown countries), webhook signatures and what a provider notification must say."""

from datetime import UTC, date, datetime, time

import orjson
import pytest
from pydantic import ValidationError

from eventkit.webhooks import sign, signature_ok
from policy.eligibility import load_policy, refusal
from services.recharge.provider import PaymentNotification

POLICY = load_policy()


@pytest.mark.parametrize(
    "country, born, today, ok",
    [
        ("US", date(2008, 3, 1), date(2026, 3, 1), True),  # 18 today
        ("US", date(2008, 3, 2), date(2026, 3, 1), False),  # 18 tomorrow
        ("GB", date(2008, 2, 29), date(2026, 2, 28), False),  # leap-day birthday: not yet 18...
        ("GB", date(2008, 2, 29), date(2026, 3, 1), True),  # ...on 1 March
        ("KR", date(2007, 12, 31), date(2026, 12, 31), True),  # 19
        ("KR", date(2008, 1, 1), date(2026, 12, 31), False),  # 18 is not enough in Korea
        ("JP", date(2006, 1, 1), date(2026, 1, 1), True),  # 20
        ("JP", date(2006, 1, 2), date(2026, 1, 1), False),
        ("DE", date(2008, 1, 1), date(2026, 1, 1), True),  # default 18
    ],
)
def test_legal_age_per_country_on_boundary_birthdays(country, born, today, ok):
    noon = datetime.combine(today, time(12), UTC)  # the same day in every zone of the country
    assert (refusal(POLICY, country, born, "personal", noon) is None) is ok


@pytest.mark.parametrize("country", [None, "", "ZZ", "us", "KP", "USA"])
def test_unknown_or_disabled_countries_may_not_buy(country):
    assert "not enabled" in refusal(
        POLICY, country, date(1980, 1, 1), "personal", datetime(2026, 1, 1, 12, tzinfo=UTC)
    )


def test_signature_covers_every_byte_and_the_secret():
    secret, body = "s" * 40, b'{"a": 1}'
    assert signature_ok(secret, body, sign(secret, body))
    assert not signature_ok(secret, body + b" ", sign(secret, body))
    assert not signature_ok("t" * 40, body, sign(secret, body))
    assert not signature_ok(secret, body, None)
    assert not signature_ok(secret, body, sign(secret, body).upper())


BASE = {
    "event_id": "evt_1",
    "type": "payment.succeeded",
    "provider_txn_id": "sbx_1",
    "purchase_id": "6f1c3a52-8d7b-4e0f-9a51-0c2d4b6e8f10",
    "amount": {"amount_minor": 99, "currency": "USD"},
    "created_at": "2026-11-26T08:00:00Z",
}


def test_a_reversal_must_carry_a_known_reason_code_and_only_a_reversal():
    PaymentNotification.model_validate(BASE)
    PaymentNotification.model_validate(
        {**BASE, "type": "payment.reversed", "reason_code": "friendly_fraud"}
    )
    for bad in (
        {**BASE, "type": "payment.reversed"},
        {**BASE, "type": "payment.reversed", "reason_code": "changed_my_mind"},
        {**BASE, "reason_code": "chargeback"},
        {**BASE, "amount": {"amount_minor": 99, "currency": "usd"}},
        {**BASE, "surprise": True},
    ):
        with pytest.raises(ValidationError):
            PaymentNotification.model_validate_json(orjson.dumps(bad))
