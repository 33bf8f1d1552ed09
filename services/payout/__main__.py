import asyncio
import logging
import os
import sys
from pathlib import Path

from eventkit.service import ServiceSpec, main
from eventkit.settings import Settings
from schemas import topics
from services.payout.api import create
from services.payout.handlers import BATCH_HANDLERS, HANDLERS

SPEC = ServiceSpec(
    name="payout",
    migrations=Path(__file__).with_name("migrations"),
    app_factory=create,
    default_port=8003,
    consumed_topics=[topics.GIFTING_EVENTS, topics.SANCTIONS_EVENTS],
    handlers=HANDLERS,
    batch_handlers=BATCH_HANDLERS,
)


def worker() -> None:
    """The payout-only `worker` role (the shared command line knows api/relay/consumer)."""
    from services.payout import worker as payout_worker

    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s payout-worker %(levelname)s %(message)s",
    )
    asyncio.run(payout_worker.run(Settings()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker()
    else:
        main(SPEC)
