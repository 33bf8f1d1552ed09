"""Every secret a process holds, found one way: the environment variable named after it
(`GIFTING_KAFKA_PASSWORD` for `gifting_kafka_password`), else, outside production, the file of
that name under `settings.secrets_dir`, which `python -m infra secrets` (run by `make up`,
`make run` and the test fixture) generates once with fresh random values.

With `COINSTREAM_ENV=production` nothing falls back to a file: a secret that is unset, a dev
default or too short stops the process at start-up with the setting's name: `startup_check`,
called by every service's command line before it connects, names every secret and key that
process needs and lacks (the `*_secret` settings are checked as the settings are read).
"""

import os
from urllib.parse import urlsplit

from eventkit.settings import Settings

MIN_LENGTH = 32  # characters; every generated secret is longer


class SecretMissing(RuntimeError):
    """A secret the process needs is not configured (or too weak for production)."""


def env_name(name: str) -> str:
    return name.upper()


def secret(settings: Settings, name: str) -> str:
    env = env_name(name)
    value = os.environ.get(env)
    if value is None:
        if settings.production:
            raise SecretMissing(
                f"{env} is not set (COINSTREAM_ENV=production reads it from the environment)"
            )
        path = settings.secrets_dir / name
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            raise SecretMissing(
                f"{env} is not set and {path} does not exist: `python -m infra secrets` "
                "(run by `make up`) generates the development secrets"
            ) from None
    if settings.production:
        strong(env, value)
    return value


def strong(setting: str, value: str) -> None:
    """Refuses, naming `setting`, a value production must not run with."""
    if value.startswith("dev-only") or len(value) < MIN_LENGTH:
        raise SecretMissing(
            f"{setting} is a development default or shorter than {MIN_LENGTH} characters"
        )


# --- Start-up check -----------------------------------------------------------------------------
# What each process reads, so a production process stops at once, naming every setting it
# lacks, instead of on its first Kafka send or database query, or with a key it should not use.


def needed(principal: str, role: str) -> list[str]:
    """The secrets a `principal` process (`python -m services.<principal> <role>`) reads:
    its database login's password (`migrate`, and projections' `rebuild`, which migrates
    first: every login's of its database, as they set them on the roles), its Kafka password
    when it talks to Kafka (an API's /readyz does), and its event-signing key when it
    publishes."""
    from eventkit import roles  # eventkit.roles imports this module

    if role in ("migrate", "rebuild"):
        names = list(roles.login_secrets(principal).values())
    else:
        login = roles.READER if (principal, role) == ("projections", "api") else principal
        names = [f"{login}_database_password"]
    # (an API only answers /readyz from Kafka, as its own principal, with no rights to use)
    if role in ("api", "relay", "consumer") or (principal, role) in KAFKA_WORKERS:
        names.append(f"{principal}_kafka_password")
    if role == "relay":  # the outbox relay signs what it publishes (eventkit.signing)
        names.append(f"{principal}_signing_key")
    if (principal, role) == ("gifting", "api"):  # it signs partners' tokens (docs/partners.md)
        names.append("gifting_partner_signing_key")
    return names


# The roles besides relay and consumer that are Kafka clients (the faust worker, the rebuild).
KAFKA_WORKERS = frozenset({("projections", "worker"), ("projections", "rebuild")})
VERIFIES_TOKENS = frozenset({"api"})


def problems(settings: Settings, principal: str, role: str) -> list[str]:
    """Every reason a production `principal` `role` process must not start (empty: none)."""
    found = []
    for name in needed(principal, role):
        try:
            secret(settings, name)
        except SecretMissing as exc:
            found.append(str(exc))
    if role in ("migrate", "rebuild"):  # these log in as the admin of DATABASE_URL
        try:
            strong("DATABASE_URL's password", urlsplit(settings.database_url).password or "")
        except SecretMissing as exc:
            found.append(str(exc))
    # Public keys: production names its own, never the development files under secrets_dir.
    if role in VERIFIES_TOKENS:
        url = settings.jwt_jwks_url
        if not url:
            found.append("JWT_JWKS_URL is not set (the identity provider's JWKS)")
        elif urlsplit(url).scheme not in ("https", "file"):
            found.append(f"JWT_JWKS_URL must be https:// (or a mounted file://), not {url!r}")
    reads_events = role == "consumer" or (principal, role) in KAFKA_WORKERS
    if reads_events and settings.event_keyring is None:
        found.append("EVENT_KEYRING is not set (the event signers' public keys)")
    return found


def startup_check(settings: Settings, principal: str, role: str) -> None:
    """In production, exits (status 1, the reasons on stderr) unless every secret and key
    this process needs is configured; outside production the generated files serve."""
    if settings.production and (found := problems(settings, principal, role)):
        raise SystemExit(
            f"{principal} {role}: refusing to start (COINSTREAM_ENV=production):\n  "
            + "\n  ".join(found)
        )
