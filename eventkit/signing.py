"""Signed events: every message on an owned topic carries an Ed25519 signature by the key of
the topic's owner (schemas.topics.OWNER), checked by every consumer before it parses the
payload. A second line behind the broker's ACLs: a message that got past them (a leaked
password, a misconfigured ACL, a super user's mistake) still cannot pass for another principal's.

What is signed: `signed_bytes(topic, key, value)`, the contract topic name (without the
deployment's topic prefix), the Kafka key and the value (the whole envelope: event id, type,
aggregate, data), each length-prefixed so no two triples share bytes. The value alone would
already stop a forged or altered event; binding the topic and key as well means a signed
message copied elsewhere does not verify either (the kid's owner must be the topic's owner
anyway, and a copy on the same topic carries the same event id, which consumers dedupe), so a
copy cannot even be moved to another partition and reorder its aggregate's events.

Keys: the private key of principal P is the secret `P_signing_key` (eventkit.secrets: env var
`P_SIGNING_KEY`, else the development file), the base64url of the raw 32 bytes. Its key id is
`P-<first 16 hex of sha256(public key)>`, so a signer needs nothing but its private key. The
public keys are in a keyring (settings.event_keyring, else secrets_dir/event_keyring.json):
`{"keys": {kid: {"owner": P, "public_key": base64url, "status": "active"|"retired"|"revoked"}}}`.
Retired keys still verify (replays and rebuilds read old messages); revoked ones do not.
docs/event-signing.md has the rotation steps.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic import BaseModel, ConfigDict, ValidationError

from eventkit.binding import binding_headers
from eventkit.codec import PoisonMessage
from eventkit.secrets import secret
from eventkit.settings import Settings
from schemas import headers, topics
from schemas.text import Id

# The one place the header names are spelled (publishers, consumers, docs, tests).
KEY_ID_HEADER = headers.KEY_ID
SIGNATURE_HEADER = headers.SIGNATURE
_FRAME = struct.Struct(">I")
KEYRING_FILE = "event_keyring.json"
# A running consumer notices an edited keyring (a new key, a revocation) within this long.
_RECHECK_SECONDS = 5.0

Headers = list[tuple[str, bytes]]
Status = Literal["active", "retired", "revoked"]


def secret_name(principal: str) -> str:
    return f"{principal}_signing_key"


def publishers() -> list[str]:
    """Every principal that owns (and so signs) a topic, in the table's order."""
    return list(dict.fromkeys(topics.OWNER.values()))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> str:
    """A fresh private key in its secret's encoding."""
    return b64(Ed25519PrivateKey.generate().private_bytes_raw())


def public_of(private_key: str) -> str:
    return b64(
        Ed25519PrivateKey.from_private_bytes(unb64(private_key)).public_key().public_bytes_raw()
    )


def key_id(principal: str, public_key: str) -> str:
    return f"{principal}-{hashlib.sha256(unb64(public_key)).hexdigest()[:16]}"


def signed_bytes(topic: str, key: bytes | None, value: bytes | None) -> bytes:
    """What the signature covers: the contract topic, the key and the value (None = empty)."""
    parts = (topic.encode(), key or b"", value or b"")
    return b"".join(_FRAME.pack(len(p)) + p for p in parts)


def contract_topic(settings: Settings, name: str) -> str:
    """The contract's name of a topic as this deployment calls it (the prefix stripped)."""
    return name.removeprefix(settings.topic_prefix)


class Signer:
    def __init__(self, principal: str, private_key: str):
        self.principal = principal
        self._key = Ed25519PrivateKey.from_private_bytes(unb64(private_key))
        public = b64(self._key.public_key().public_bytes_raw())
        self.kid = key_id(principal, public)
        self._kid = self.kid.encode()

    def headers(self, topic: str, key: bytes | None, value: bytes | None) -> Headers:
        """The headers that sign this message; `topic` is the contract name (no prefix)."""
        signature = self._key.sign(signed_bytes(topic, key, value))
        return [(KEY_ID_HEADER, self._kid), (SIGNATURE_HEADER, signature)]


_signers: dict[tuple[str, Path], Signer] = {}


def signer(settings: Settings, principal: str) -> Signer:
    """`principal`'s signer from its secret, loaded once per process (a new key is a restart,
    step 2 of the rotation in docs/event-signing.md)."""
    cache = (principal, settings.secrets_dir)
    if cache not in _signers:
        _signers[cache] = Signer(principal, secret(settings, secret_name(principal)))
    return _signers[cache]


def signed_headers(
    settings: Settings, principal: str, topic: str, value: bytes | None, key: bytes | None = None
) -> Headers:
    """The headers for publishing `value` on the contract topic `topic` as `principal`: the one
    line every publisher (relay, test helpers, scripts) adds to its send. Besides the signature,
    the CloudEvents binding's content-type (eventkit.binding)."""
    return signer(settings, principal).headers(topic, key, value) + binding_headers()


def owner_headers(
    settings: Settings, topic: str, value: bytes | None, key: bytes | None = None
) -> Headers:
    """signed_headers as the owner of the contract topic `topic` (the relay, and tests playing
    a publisher)."""
    return signed_headers(settings, topics.OWNER[topic], topic, value, key)


# --- the keyring ---------------------------------------------------------------------------


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    owner: Id
    public_key: str
    status: Status = "active"


class Keyring(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: dict[Id, KeyEntry] = {}


class KeyringError(RuntimeError):
    """The keyring is missing or malformed: a consumer cannot verify anything without it."""


def keyring_path(settings: Settings) -> Path:
    return settings.event_keyring or settings.secrets_dir / KEYRING_FILE


def read_keyring(path: Path) -> Keyring:
    try:
        return Keyring.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise KeyringError(
            f"no event keyring at {path} (EVENT_KEYRING; `python -m infra secrets` writes the "
            "development one)"
        ) from None
    except ValidationError as exc:
        raise KeyringError(f"the event keyring {path} is malformed: {exc}") from None


def write_keyring(path: Path, ring: Keyring) -> None:
    """Replaces the file atomically, so a consumer re-reading it never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(ring.model_dump(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def trust(ring: Keyring, owner: str, public_key: str) -> str:
    """Adds `owner`'s public key as active (an entry already there keeps its status); its kid."""
    unb64(public_key)  # refuse a key that is not base64url
    Ed25519PublicKey.from_public_bytes(unb64(public_key))
    kid = key_id(owner, public_key)
    ring.keys.setdefault(kid, KeyEntry(owner=owner, public_key=public_key))
    return kid


def set_status(ring: Keyring, kid: str, status: Status) -> None:
    ring.keys[kid] = ring.keys[kid].model_copy(update={"status": status})


# --- verifying -----------------------------------------------------------------------------


class Verifier:
    """Checks a consumed message's signature against its topic owner's keys. The keyring is
    read once and its public keys kept parsed; the file is re-read when it changes (looked at
    every few seconds, and at once for an unknown key id), so a rotation or a revocation needs
    no restart.

    Verifying is libsodium's (PyNaCl), signing OpenSSL's (cryptography): the same Ed25519 keys
    and signatures, and on this machine libsodium verifies in about half the time (~100 against
    190-220 us), once per consumed message. It is the stricter of the two (it refuses
    non-canonical signatures and small-order keys), which no signature of ours is."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = keyring_path(settings)
        self._keys: dict[str, tuple[str, VerifyKey]] = {}  # kid -> (owner, key)
        self._revoked: set[str] = set()
        self._mtime: float | None = None
        self._checked = 0.0
        self._load()

    def _load(self) -> None:
        mtime = self.path.stat().st_mtime if self.path.exists() else None
        if mtime == self._mtime and self._keys:
            return
        ring = read_keyring(self.path)
        keys, revoked = {}, set()
        for kid, entry in ring.keys.items():
            if entry.status == "revoked":
                revoked.add(kid)
            else:
                keys[kid] = (entry.owner, VerifyKey(unb64(entry.public_key)))
        self._keys, self._revoked, self._mtime = keys, revoked, mtime

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._checked > _RECHECK_SECONDS:
            self._checked = now
            self._load()

    def check(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        """Raises PoisonMessage with the reason unless the message is signed by a live key of
        the owner of `topic` (the deployment's name, prefix and all)."""
        self._refresh()
        name = contract_topic(self.settings, topic)
        owner = topics.OWNER.get(name)
        if owner is None:
            raise PoisonMessage(f"signature: topic {name} has no owner to verify against")
        found = dict(headers or ())
        kid_raw, signature = found.get(KEY_ID_HEADER), found.get(SIGNATURE_HEADER)
        if kid_raw is None or signature is None:
            raise PoisonMessage(
                f"signature: unsigned message (no {KEY_ID_HEADER}/{SIGNATURE_HEADER} header)"
            )
        kid = kid_raw.decode("ascii", "replace")
        if kid not in self._keys and kid not in self._revoked:
            self._refresh(force=True)
        if kid in self._revoked:
            raise PoisonMessage(f"signature: key {kid} is revoked")
        if kid not in self._keys:
            raise PoisonMessage(f"signature: unknown key id {kid!r}")
        signer_owner, public = self._keys[kid]
        if signer_owner != owner:
            raise PoisonMessage(
                f"signature: key {kid} belongs to {signer_owner}; {name} is written by {owner}"
            )
        try:
            public.verify(signed_bytes(name, key, value), signature)
        except (BadSignatureError, ValueError):  # ValueError: a signature not 64 bytes long
            raise PoisonMessage(f"signature: bad signature by key {kid}") from None


# --- `python -m eventkit.signing`: keys for a new publisher, and rotation --------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eventkit.signing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("keygen", help="a new private key (stdout) and its public key (stderr)")
    new.add_argument("principal")
    add = sub.add_parser("trust", help="add a public key to the keyring as active")
    add.add_argument("principal")
    add.add_argument("public_key")
    for status in ("retire", "revoke"):
        cmd = sub.add_parser(status, help=f"mark a key id {status}d in the keyring")
        cmd.add_argument("kid")
    parser.add_argument("--keyring", type=Path, help="default: EVENT_KEYRING or the dev keyring")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        private = new_private_key()
        public = public_of(private)
        print(f"{secret_name(args.principal).upper()}={private}")
        print(f"public key {public} (kid {key_id(args.principal, public)})", file=sys.stderr)
        return
    path = args.keyring or keyring_path(Settings())
    ring = read_keyring(path) if path.exists() else Keyring()
    if args.command == "trust":
        print(trust(ring, args.principal, args.public_key))
    else:
        if args.kid not in ring.keys:
            raise SystemExit(f"no key {args.kid} in {path}")
        set_status(ring, args.kid, "retired" if args.command == "retire" else "revoked")
    write_keyring(path, ring)


if __name__ == "__main__":
    main()
