import asyncio
import logging
import os
import sys
from pathlib import Path

from eventkit.service import ServiceSpec, main
from eventkit.settings import Settings
from schemas import topics
from services.recharge.api import create
from services.recharge.handlers import HANDLERS

SPEC = ServiceSpec(
    name="recharge",
    migrations=Path(__file__).with_name("migrations"),
    app_factory=create,
    default_port=8001,
    consumed_topics=[topics.MODERATION_COMMANDS],
    handlers=HANDLERS,
)


def worker() -> None:
    """The recharge-only `worker` role (the shared command line knows api/relay/consumer)."""
    from eventkit.db import migrate
    from services.recharge import worker as recharge_worker

    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s recharge-worker %(levelname)s %(message)s",
    )
    settings = Settings()
    asyncio.run(migrate(settings.database_for("recharge"), SPEC.migrations))
    asyncio.run(recharge_worker.run(settings))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker()
    else:
        main(SPEC)
