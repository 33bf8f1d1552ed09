from pathlib import Path

from eventkit.service import ServiceSpec, main
from schemas import topics
from services.payout import worker
from services.payout.api import create
from services.payout.handlers import BATCH_HANDLERS, HANDLERS
from services.payout.settings import PayoutSettings

SPEC = ServiceSpec(
    name="payout",
    migrations=Path(__file__).with_name("migrations"),
    settings=PayoutSettings,
    app_factory=create,
    worker=worker.run,
    consumed_topics=[topics.GIFTING_EVENTS, topics.SANCTIONS_EVENTS],
    handlers=HANDLERS,
    batch_handlers=BATCH_HANDLERS,
)


if __name__ == "__main__":
    main(SPEC)
