"""`python -m infra secrets`: the development secrets, generated once under settings.secrets_dir
(git-ignored, mode 0600) with fresh random values, never typed by hand. Production reads the
same names from the environment instead (eventkit.secrets)."""

import json
import os
import secrets as random
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventkit import auth, signing
from eventkit.secrets import MIN_LENGTH, secret
from eventkit.settings import Settings


def _write_once(path: Path, value: str) -> bool:
    """Writes `value` to `path` unless it exists. Written to a private temporary file first and
    linked into place, so a process running `ensure` at the same time never reads half a secret
    and exactly one of them makes it."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:  # mkstemp's file is 0600
            f.write(value + "\n")
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def password(settings: Settings, name: str) -> bool:
    """A random password under `name`, unless one is there; True when it was made now."""
    return _write_once(settings.secrets_dir / name, random.token_urlsafe(MIN_LENGTH))


def signing_keys(settings: Settings) -> list[str]:
    """Each publishing principal's event-signing key (unless one is there), and the development
    keyring trusting the key each one signs with now (from its env var when set, else its
    file); a key already in the keyring keeps its status. The names it made."""
    made = [
        name
        for principal in signing.publishers()
        if _write_once(
            settings.secrets_dir / (name := signing.secret_name(principal)),
            signing.new_private_key(),
        )
    ]
    path = signing.keyring_path(settings)
    ring = signing.read_keyring(path) if path.exists() else signing.Keyring()
    before = set(ring.keys)
    for principal in signing.publishers():
        key = secret(settings, signing.secret_name(principal))
        signing.trust(ring, principal, signing.public_of(key))
    if set(ring.keys) != before:
        signing.write_keyring(path, ring)
        made.append(path.name)
    return made


def jwt_keys(settings: Settings) -> list[str]:
    """The development token-minting key `jwt_signing_key` (unless one is there) and the
    development JWKS publishing its public key; a key already in the JWKS stays, so deleting
    the key file and running this again is a rotation (both keys published; remove the old
    one from jwks.json once its tokens have expired). The names it made."""
    made = []
    fresh = auth.encode_private_key(Ed25519PrivateKey.generate())
    if _write_once(settings.secrets_dir / auth.SIGNING_KEY, fresh):
        made.append(auth.SIGNING_KEY)
    jwk = auth.public_jwk(auth.dev_signer(settings)[0])
    path = settings.secrets_dir / "jwks.json"
    keys = json.loads(path.read_text())["keys"] if path.exists() else []
    if jwk["kid"] not in {k.get("kid") for k in keys}:
        # Written whole then renamed: a process reading the JWKS never sees half of one.
        draft = path.with_suffix(f".{os.getpid()}.tmp")
        draft.write_text(json.dumps({"keys": [*keys, jwk]}, indent=2) + "\n")
        draft.replace(path)
        made.append(path.name)
    return made


def partner_keys(settings: Settings) -> list[str]:
    """Gifting's partner-token signing key (services/gifting/partners_tokens.py), unless one is
    there. The names it made."""
    from services.gifting.partners_tokens import SIGNING_KEY

    fresh = auth.encode_private_key(Ed25519PrivateKey.generate())
    return [SIGNING_KEY] if _write_once(settings.secrets_dir / SIGNING_KEY, fresh) else []


def database_passwords(settings: Settings) -> list[str]:
    """Each PostgreSQL login role's password (eventkit.roles: every service's, the read API's,
    the auditor's), which the migration step sets on the roles. The names it made."""
    from eventkit.roles import all_secret_names
    from eventkit.settings import SERVICES

    return [name for name in all_secret_names(SERVICES) if password(settings, name)]


def kafka(settings: Settings) -> list[str]:
    """Each Kafka principal's SCRAM password, and the broker's TLS CA and certificate."""
    from eventkit.kafka import PRINCIPALS
    from infra.kafka_access import CA_FILE, ensure_tls

    made = [n for n in (f"{p}_kafka_password" for p in PRINCIPALS) if password(settings, n)]
    return made + ([CA_FILE] if ensure_tls(settings.secrets_dir) else [])


def ensure(settings: Settings) -> list[str]:
    """Generates whatever development secret is missing; the names it made. Nothing in
    production, where every secret comes from the environment."""
    made: list[str] = []
    if settings.production:
        return made
    made += kafka(settings)
    made += database_passwords(settings)
    made += signing_keys(settings)
    made += jwt_keys(settings)
    made += partner_keys(settings)
    return made
