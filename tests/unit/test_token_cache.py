"""Verified tokens are remembered per exact token string; the time checks are redone on every
use, and a token that differs in any byte (a forged signature) is checked afresh."""

import time

import pytest

from eventkit import auth
from eventkit.auth import mint_token, verify
from eventkit.problems import Unauthorized
from eventkit.settings import Settings

SETTINGS = Settings(jwt_secret="s" * 64)


def test_a_remembered_token_still_expires(monkeypatch):
    token = mint_token(SETTINGS, "fan-exp", ttl_seconds=60)
    assert verify(SETTINGS, token).user_id == "fan-exp"
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        verify(SETTINGS, token)


def test_a_forged_signature_is_refused_after_the_real_token_was_remembered():
    token = mint_token(SETTINGS, "fan-forge")
    verify(SETTINGS, token)
    head, body, signature = token.split(".")
    forged = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
    with pytest.raises(Unauthorized):
        verify(SETTINGS, forged)


def test_another_secret_does_not_reuse_what_one_secret_verified():
    token = mint_token(SETTINGS, "fan-secret")
    verify(SETTINGS, token)
    with pytest.raises(Unauthorized):
        verify(Settings(jwt_secret="t" * 64), token)


def test_a_refused_token_stays_refused():
    bad = mint_token(Settings(jwt_secret="x" * 64), "fan-bad")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verify(SETTINGS, bad)
