"""Every secret a process holds, found one way: the environment variable named after it
(`GIFTING_KAFKA_PASSWORD` for `gifting_kafka_password`), else, outside production, the file of
that name under `settings.secrets_dir`, which `python -m infra secrets` (run by `make up`,
`make run` and the test fixture) generates once with fresh random values.

With `COINSTREAM_ENV=production` nothing falls back to a file: a secret that is unset, a dev
default or too short stops the process at start-up with the setting's name.
"""

import os

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
