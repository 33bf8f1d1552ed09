"""Where the native Kafka and PostgreSQL that `python -m infra` starts listen: the defaults of
`Settings`, and the launcher's own ports (infra/ imports them from here, so eventkit needs
nothing from the launcher)."""

import os

KAFKA_PORT = int(os.environ.get("COINSTREAM_KAFKA_PORT", "19092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("COINSTREAM_KAFKA_CONTROLLER_PORT", "19093"))
POSTGRES_PORT = int(os.environ.get("COINSTREAM_POSTGRES_PORT", "15432"))

KAFKA_BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
POSTGRES_USER = "coinstream"
POSTGRES_PASSWORD = "coinstream"
DATABASE_URL = (
    f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{POSTGRES_PORT}/postgres"
)
