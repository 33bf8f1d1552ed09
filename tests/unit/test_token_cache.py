"""Verified tokens are remembered per exact token string and key: the time checks are redone
on every use, a token that differs in any byte (a forged signature) is checked afresh, and a
remembered verdict never outlives its key's removal from the JWKS by more than the JWKS cache
lifespan."""

import time

import pytest

from eventkit import auth
from eventkit.auth import verify
from eventkit.problems import ServiceUnavailable, Unauthorized
from eventkit.settings import Settings
from tests.support.tokens import Provider, new_key, token

BASE = Settings()


@pytest.fixture
def provider(tmp_path):
    published = Provider(tmp_path / "jwks.json")
    published.publish(new_key())
    return published


def test_a_remembered_token_still_expires(provider, monkeypatch):
    settings = provider.settings(BASE)
    issued = token(settings, provider.published[0], "fan-exp", exp=int(time.time()) + 60)
    assert verify(settings, issued).user_id == "fan-exp"
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        verify(settings, issued)


def test_a_forged_signature_is_refused_after_the_real_token_was_remembered(provider):
    settings = provider.settings(BASE)
    issued = token(settings, provider.published[0], "fan-forge")
    verify(settings, issued)
    head, body, signature = issued.split(".")
    forged = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
    with pytest.raises(Unauthorized):
        verify(settings, forged)


def test_another_jwks_does_not_reuse_what_one_jwks_verified(provider, tmp_path):
    issued = token(BASE, provider.published[0], "fan-jwks")
    verify(provider.settings(BASE), issued)
    other = Provider(tmp_path / "other.json")
    other.publish(new_key())
    with pytest.raises(Unauthorized, match="no published signing key"):
        verify(other.settings(BASE), issued)


def test_a_refused_token_stays_refused(provider):
    bad = token(BASE, new_key(), "fan-bad")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verify(provider.settings(BASE), bad)


def test_a_remembered_token_is_refused_once_its_key_is_unpublished(provider):
    """The cache bound: removal takes effect when the JWKS cache expires, not later."""
    settings = provider.settings(BASE, jwt_jwks_lifespan_seconds=0.3)
    old = provider.published[0]
    issued = token(settings, old, "fan-rotated")
    verify(settings, issued)
    provider.publish(new_key())
    verify(settings, issued)  # the JWKS cached a moment ago still has it
    time.sleep(0.4)
    with pytest.raises(Unauthorized, match="no published signing key"):
        verify(settings, issued)


def test_production_mints_no_token():
    """Only the identity provider mints in production; the dev key is not even read."""
    with pytest.raises(auth.MintingRefused):
        auth.mint_token(BASE.model_copy(update={"env": "production"}), "fan-prod")


def test_an_unreadable_or_empty_jwks_is_unavailable_not_unauthorized(provider, tmp_path):
    issued = token(BASE, provider.published[0], "fan-503")
    missing = Provider(tmp_path / "missing.json")
    with pytest.raises(ServiceUnavailable, match="cannot be fetched"):
        verify(missing.settings(BASE), issued)
    (tmp_path / "empty.json").write_text('{"keys": []}')
    with pytest.raises(ServiceUnavailable):
        verify(Provider(tmp_path / "empty.json").settings(BASE), issued)
