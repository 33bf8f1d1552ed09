"""Event signatures (eventkit.signing): what verifies, what is refused and why, the keyring's
statuses, and the development keys `python -m infra secrets` makes."""

import json
import os

import pytest

from eventkit import signing
from eventkit.codec import PoisonMessage
from eventkit.secrets import MIN_LENGTH, strong
from eventkit.settings import Settings
from infra.secrets import signing_keys
from schemas import topics

RECHARGE = topics.RECHARGE_EVENTS
VALUE = b'{"type": "CoinPurchased", "data": {"coins": 7}}'


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    for principal in signing.publishers():  # only the generated files, not the caller's env
        monkeypatch.delenv(signing.secret_name(principal).upper(), raising=False)
    s = Settings(secrets_dir=tmp_path / "secrets", topic_prefix="t1.")
    signing_keys(s)
    return s


def refused(verifier: signing.Verifier, topic: str, key, value, headers) -> str:
    with pytest.raises(PoisonMessage) as caught:
        verifier.check(topic, key, value, headers)
    return caught.value.reason


def test_the_owner_signature_verifies_on_the_prefixed_topic(settings):
    headers = signing.owner_headers(settings, RECHARGE, VALUE, b"k")
    signing.Verifier(settings).check(settings.topic(RECHARGE), b"k", VALUE, headers)


@pytest.mark.parametrize(
    "topic, key, value",
    [
        (RECHARGE, b"k", VALUE.replace(b"7", b"7000000")),  # the body
        (RECHARGE, b"other", VALUE),  # the key: another partition, another order
        (topics.SANCTIONS_EVENTS, b"k", VALUE),  # the same owner's other topic
    ],
)
def test_a_tampered_message_is_refused(settings, topic, key, value):
    headers = signing.owner_headers(settings, RECHARGE, VALUE, b"k")
    reason = refused(signing.Verifier(settings), settings.topic(topic), key, value, headers)
    assert reason.startswith("signature: bad signature by key recharge-"), reason


@pytest.mark.parametrize("cut", [lambda s: s[:63], lambda s: s + b"\0", lambda s: b""])
def test_a_signature_of_the_wrong_length_is_a_bad_signature(settings, cut):
    # libsodium refuses these before verifying (a ValueError, not a BadSignatureError): still
    # a dead letter with the reason, never an exception that stops the consumer.
    headers = dict(signing.owner_headers(settings, RECHARGE, VALUE, b"k"))
    headers[signing.SIGNATURE_HEADER] = cut(headers[signing.SIGNATURE_HEADER])
    reason = refused(
        signing.Verifier(settings), settings.topic(RECHARGE), b"k", VALUE, list(headers.items())
    )
    assert reason.startswith("signature: bad signature by key recharge-"), reason


def test_the_verifier_accepts_what_the_signer_signs_over_many_keys_and_messages(settings):
    # Signing stays OpenSSL's and verifying is libsodium's: the two must agree on every pair.
    verifier = signing.Verifier(settings)
    for i in range(200):
        value, key = os.urandom(i * 7), os.urandom(i % 13) or None
        headers = signing.owner_headers(settings, RECHARGE, value, key)
        verifier.check(settings.topic(RECHARGE), key, value, headers)


def test_a_signature_by_another_principal_is_refused_naming_both(settings):
    headers = signing.signed_headers(settings, "gifting", RECHARGE, VALUE, b"k")
    reason = refused(signing.Verifier(settings), settings.topic(RECHARGE), b"k", VALUE, headers)
    assert "belongs to gifting" in reason and "written by recharge" in reason, reason


def test_unsigned_and_unknown_key_are_refused(settings):
    verifier = signing.Verifier(settings)
    topic = settings.topic(RECHARGE)
    assert refused(verifier, topic, b"k", VALUE, []).startswith("signature: unsigned message")
    stranger = signing.Signer("recharge", signing.new_private_key())  # not in the keyring
    reason = refused(verifier, topic, b"k", VALUE, stranger.headers(RECHARGE, b"k", VALUE))
    assert reason == f"signature: unknown key id {stranger.kid!r}"


def test_a_topic_without_an_owner_is_refused(settings):
    headers = signing.owner_headers(settings, RECHARGE, VALUE)
    reason = refused(
        signing.Verifier(settings), settings.topic(topics.DEAD_LETTER), None, VALUE, headers
    )
    assert "has no owner" in reason


def test_retired_keys_verify_and_revoked_keys_do_not(settings):
    path = signing.keyring_path(settings)
    kid = signing.signer(settings, "recharge").kid
    headers = signing.owner_headers(settings, RECHARGE, VALUE)
    ring = signing.read_keyring(path)
    signing.set_status(ring, kid, "retired")
    signing.write_keyring(path, ring)
    signing.Verifier(settings).check(settings.topic(RECHARGE), None, VALUE, headers)
    signing.set_status(ring, kid, "revoked")
    signing.write_keyring(path, ring)
    reason = refused(signing.Verifier(settings), settings.topic(RECHARGE), None, VALUE, headers)
    assert reason == f"signature: key {kid} is revoked"


def test_a_running_verifier_picks_up_a_key_added_to_the_keyring(settings):
    """Rotation step 1 needs no restart: an unknown key id re-reads a changed keyring."""
    verifier = signing.Verifier(settings)
    new = signing.new_private_key()
    path = signing.keyring_path(settings)
    ring = signing.read_keyring(path)
    signing.trust(ring, "recharge", signing.public_of(new))
    signing.write_keyring(path, ring)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a visibly newer file
    headers = signing.Signer("recharge", new).headers(RECHARGE, None, VALUE)
    verifier.check(settings.topic(RECHARGE), None, VALUE, headers)


def test_dev_keys_are_made_once_and_statuses_survive(settings):
    path = signing.keyring_path(settings)
    ring = json.loads(path.read_text())["keys"]
    assert sorted(e["owner"] for e in ring.values()) == sorted(signing.publishers())
    assert set(topics.OWNER.values()) == {"recharge", "gifting", "payout", "accounts", "moderation"}
    for principal in signing.publishers():
        key = (settings.secrets_dir / signing.secret_name(principal)).read_text().strip()
        assert len(key) >= MIN_LENGTH
        strong(signing.secret_name(principal).upper(), key)  # fit for production too
        assert (
            oct((settings.secrets_dir / signing.secret_name(principal)).stat().st_mode)[-3:]
            == "600"
        )
    kid = signing.signer(settings, "payout").kid
    keyring = signing.read_keyring(path)
    signing.set_status(keyring, kid, "retired")
    signing.write_keyring(path, keyring)
    assert signing_keys(settings) == []  # nothing new: the retired key stays retired
    assert signing.read_keyring(path).keys[kid].status == "retired"


def test_a_key_from_the_environment_is_the_one_trusted(settings, monkeypatch):
    private = signing.new_private_key()
    monkeypatch.setenv("MODERATION_SIGNING_KEY", private)
    assert signing_keys(settings) == [signing.KEYRING_FILE]
    kid = signing.key_id("moderation", signing.public_of(private))
    assert signing.read_keyring(signing.keyring_path(settings)).keys[kid].owner == "moderation"
    assert signing.signer(settings, "moderation").kid == kid


def test_the_signed_bytes_cannot_be_shifted_between_fields():
    assert signing.signed_bytes("t", b"ab", b"c") != signing.signed_bytes("t", b"a", b"bc")
    assert signing.signed_bytes("t", None, None) == signing.signed_bytes("t", b"", b"")


def test_the_cli_makes_a_key_an_outside_publisher_can_be_trusted_with(tmp_path, capsys):
    keyring = tmp_path / "ring.json"
    signing.main(["keygen", "accounts"])
    out = capsys.readouterr()
    env_line = out.out.strip()
    assert env_line.startswith("ACCOUNTS_SIGNING_KEY=")
    public = out.err.split()[2]
    signing.main(["--keyring", str(keyring), "trust", "accounts", public])
    kid = capsys.readouterr().out.strip()
    signing.main(["--keyring", str(keyring), "retire", kid])
    entry = signing.read_keyring(keyring).keys[kid]
    assert (entry.owner, entry.status) == ("accounts", "retired")
    assert signing.key_id("accounts", signing.public_of(env_line.split("=", 1)[1])) == kid
