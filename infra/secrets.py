"""`python -m infra secrets`: the development secrets, generated once under settings.secrets_dir
(git-ignored, mode 0600) with fresh random values, never typed by hand. Production reads the
same names from the environment instead (eventkit.secrets)."""

import os
import secrets as random
from pathlib import Path

from eventkit.secrets import MIN_LENGTH
from eventkit.settings import Settings


def _write_once(path: Path, value: str) -> bool:
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return True


def password(settings: Settings, name: str) -> bool:
    """A random password under `name`, unless one is there; True when it was made now."""
    return _write_once(settings.secrets_dir / name, random.token_urlsafe(MIN_LENGTH))


def ensure(settings: Settings) -> list[str]:
    """Generates whatever development secret is missing; the names it made."""
    made: list[str] = []
    return made
