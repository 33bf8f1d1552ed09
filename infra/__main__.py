"""`python -m infra up|down|status|prepare`.

up       start PostgreSQL and Kafka natively (unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point
         elsewhere), then prepare
prepare  create the databases, apply migrations and create the topics on whatever is configured
down     stop the native servers (data is kept under .cache/)
"""

import asyncio
import os
import sys
from pathlib import Path

from infra import kafka, postgres

SERVICES = ("recharge", "gifting", "payout", "projections")
ROOT = Path(__file__).resolve().parent.parent


def start_native() -> None:
    if not os.environ.get("DATABASE_URL"):
        postgres.start()
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        kafka.start()


async def prepare() -> None:
    from eventkit.db import migrate
    from eventkit.kafka import create_topics
    from eventkit.settings import Settings

    settings = Settings()
    for service in SERVICES:
        applied = await migrate(settings.database_for(service),
                                ROOT / "services" / service / "migrations")
        if applied:
            print(f"{service}: applied {', '.join(applied)}")
    created = await create_topics(settings)
    if created:
        print(f"kafka: created topics {', '.join(created)}")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "up":
        start_native()
        asyncio.run(prepare())
    elif command == "prepare":
        asyncio.run(prepare())
    elif command == "down":
        kafka.stop()
        postgres.stop()
    elif command == "status":
        print(postgres.status())
        print(kafka.status())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
