"""The pure rules of partner platforms: scopes a token gets, token claims and their refusals,
what a consent allows, the daily limit's refusal, the revenue share's arithmetic, and the
client secret's hash."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from schemas.events.partners import PartnerCoinsDebited
from services.gifting.partners_decide import (
    CREDIT,
    DEBIT,
    TOKEN_SECONDS,
    Client,
    Consent,
    access_token,
    claims,
    consent_refusal,
    granted_scopes,
    limit_reached,
    scope_refusal,
    token_refusal,
)
from services.gifting.partners_errors import (
    ConsentLimitReached,
    ConsentRequired,
    ConsentRevoked,
    PartnerSecretRotated,
    PartnerTokenExpired,
    PartnerTokenInvalid,
    ScopeNotGranted,
)
from services.gifting.partners_tokens import hash_secret, secret_matches

NOW = datetime(2026, 12, 2, 23, 58, tzinfo=UTC)
SHOP = Client("shop-1", "pc_1", (DEBIT, CREDIT), 7000, 1000, 2)


def test_granted_scopes_are_a_subset_of_the_clients_in_canonical_order():
    assert granted_scopes(None, SHOP.scopes) == (DEBIT, CREDIT)
    assert granted_scopes("", SHOP.scopes) == (DEBIT, CREDIT)
    assert granted_scopes("coins:credit coins:debit", SHOP.scopes) == (DEBIT, CREDIT)
    assert granted_scopes("coins:credit", SHOP.scopes) == (CREDIT,)
    assert granted_scopes("coins:credit", (DEBIT,)) is None
    assert granted_scopes("coins:debit  coins:credit", SHOP.scopes) is None  # RFC 6749: one space
    assert granted_scopes("admin", SHOP.scopes) is None


def test_claims_round_trip_and_carry_the_secret_version():
    token = access_token(claims(SHOP, (DEBIT,), NOW, "j1"))
    assert (token.partner_id, token.client_id, token.scopes, token.secret_version) == (
        "shop-1",
        "pc_1",
        (DEBIT,),
        2,
    )
    assert token.expires_at == int(NOW.timestamp()) + TOKEN_SECONDS
    assert token_refusal(token, NOW, SHOP) is None
    assert scope_refusal(token, DEBIT) is None
    assert isinstance(scope_refusal(token, CREDIT), ScopeNotGranted)


def test_a_token_is_refused_once_expired_rotated_or_its_client_gone():
    token = access_token(claims(SHOP, (DEBIT,), NOW, "j1"))
    later = NOW + timedelta(seconds=TOKEN_SECONDS)
    assert isinstance(token_refusal(token, later, SHOP), PartnerTokenExpired)
    rotated = Client(**{**SHOP.__dict__, "secret_version": 3})
    assert isinstance(token_refusal(token, NOW, rotated), PartnerSecretRotated)
    assert isinstance(token_refusal(token, NOW, None), PartnerTokenInvalid)


@pytest.mark.parametrize(
    "bad", [{"scope": "coins:debit admin"}, {"sv": "x"}, {"partner_id": None, "sub": None}]
)
def test_claims_that_do_not_fit_make_an_invalid_token(bad):
    good = claims(SHOP, (DEBIT,), NOW, "j1")
    broken = {k: v for k, v in {**good, **bad}.items() if v is not None}
    with pytest.raises(PartnerTokenInvalid):
        access_token(broken)


def consent(**over) -> Consent:
    base = dict(
        consent_id="c1",
        user_id="fan-1",
        partner_id="shop-1",
        scopes=(DEBIT,),
        max_coins=100,
        coins_used=60,
        revoked=False,
    )
    return Consent(**{**base, **over})  # type: ignore[arg-type]


def test_what_a_consent_lets_a_partner_do():
    assert consent_refusal(consent(), "shop-1", DEBIT, 40) is None
    assert isinstance(consent_refusal(consent(), "shop-1", DEBIT, 41), ConsentLimitReached)
    assert consent_refusal(consent(max_coins=None), "shop-1", DEBIT, 10**9) is None
    assert isinstance(consent_refusal(None, "shop-1", DEBIT, 1), ConsentRequired)
    assert isinstance(consent_refusal(consent(), "shop-2", DEBIT, 1), ConsentRequired)
    assert isinstance(consent_refusal(consent(revoked=True), "shop-1", DEBIT, 1), ConsentRevoked)
    assert isinstance(consent_refusal(consent(), "shop-1", CREDIT, 1), ScopeNotGranted)
    # the cap is on debits: a credit under a debit-and-credit consent passes it
    both = consent(scopes=(DEBIT, CREDIT), coins_used=100)
    assert consent_refusal(both, "shop-1", CREDIT, 50) is None


def test_the_daily_limit_refusal_names_the_limit_and_the_next_utc_midnight():
    refusal = limit_reached("shop-1", 1000, 990, 20, NOW)
    assert refusal.status == 403 and refusal.code == "partner-limit-daily"
    assert refusal.extra == {
        "limit": 1000,
        "spent": 990,
        "resets_at": "2026-12-03T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("coins", "bp", "rate", "coins_out", "diamonds"),
    [
        (120, 7000, "1", 84, 84),
        (35, 7000, "1", 24, 24),
        (1, 9999, "1", 0, 0),
        (99, 5000, "0.5", 49, 24),
    ],
)
def test_the_revenue_share_floors_in_integers(coins, bp, rate, coins_out, diamonds):
    event = PartnerCoinsDebited(
        operation_id="o",
        partner_id="shop-1",
        user_id="fan-1",
        consent_id="c",
        item_id="i",
        title="t",
        coins=coins,
        balance_after=0,
        revenue_share_bp=bp,
        diamonds_per_coin=Decimal(rate),
        rates_version=1,
    )
    assert (event.partner_coins, event.partner_diamonds) == (coins_out, diamonds)


def test_secrets_are_kept_as_salted_scrypt_hashes():
    stored = hash_secret("s3cret")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert hash_secret("s3cret") != stored  # salted
    assert secret_matches("s3cret", stored)
    assert not secret_matches("s3cret!", stored)
    assert not secret_matches("s3cret", "garbage")
