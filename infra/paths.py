"""Where the native infrastructure keeps its (git-ignored) caches, and which ports it uses (those
live in eventkit.local, beside the settings whose defaults they are)."""

import os
from pathlib import Path

from eventkit.local import (
    DATABASE_URL,
    KAFKA_BOOTSTRAP,
    KAFKA_CONTROLLER_PORT,
    KAFKA_PORT,
    POSTGRES_PASSWORD,
    POSTGRES_PORT,
    POSTGRES_USER,
)

__all__ = [
    "CACHE",
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP",
    "KAFKA_CONTROLLER_PORT",
    "KAFKA_LIB",
    "KAFKA_PORT",
    "POSTGRES_PASSWORD",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "ROOT",
]

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("COINSTREAM_CACHE", ROOT / ".cache"))
# The broker jars, shareable between instances (a second, private broker reuses the first's).
KAFKA_LIB = Path(os.environ.get("COINSTREAM_KAFKA_LIB", CACHE / "kafka" / "lib"))
