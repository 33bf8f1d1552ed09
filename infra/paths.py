"""Where the native infrastructure keeps its (git-ignored) caches, and which ports it uses."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("COINSTREAM_CACHE", ROOT / ".cache"))
# The broker jars, shareable between instances (a second, private broker reuses the first's).
KAFKA_LIB = Path(os.environ.get("COINSTREAM_KAFKA_LIB", CACHE / "kafka" / "lib"))

KAFKA_PORT = int(os.environ.get("COINSTREAM_KAFKA_PORT", "19092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("COINSTREAM_KAFKA_CONTROLLER_PORT", "19093"))
POSTGRES_PORT = int(os.environ.get("COINSTREAM_POSTGRES_PORT", "15432"))

KAFKA_BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
POSTGRES_USER = "coinstream"
POSTGRES_PASSWORD = "coinstream"
DATABASE_URL = (
    f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{POSTGRES_PORT}/postgres"
)
