"""Where the native Kafka and PostgreSQL that `python -m infra` starts listen: the defaults of
`Settings`, and the launcher's own ports (infra/ imports them from here, so eventkit needs
nothing from the launcher)."""

import os
from pathlib import Path

KAFKA_PORT = int(os.environ.get("COINSTREAM_KAFKA_PORT", "19092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("COINSTREAM_KAFKA_CONTROLLER_PORT", "19093"))
POSTGRES_PORT = int(os.environ.get("COINSTREAM_POSTGRES_PORT", "15432"))

KAFKA_BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
POSTGRES_USER = "coinstream"
POSTGRES_PASSWORD = "coinstream"
DATABASE_URL = (
    f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{POSTGRES_PORT}/postgres"
)
# The clone's cache dir (COINSTREAM_CACHE; infra.paths.CACHE): the native servers' data, the
# development secrets and keys `python -m infra secrets` writes (infra/secrets.py), the npm
# packages `python -m infra.node install` puts there (the dashboard's ECharts).
CACHE_DIR = Path(
    os.environ.get("COINSTREAM_CACHE", Path(__file__).resolve().parent.parent / ".cache")
)
SECRETS_DIR = CACHE_DIR / "secrets"
