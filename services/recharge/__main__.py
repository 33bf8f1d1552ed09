from pathlib import Path

from eventkit.service import ServiceSpec, main
from schemas import topics
from services.recharge import worker
from services.recharge.api import create
from services.recharge.handlers import HANDLERS
from services.recharge.settings import RechargeSettings

SPEC = ServiceSpec(
    name="recharge",
    migrations=Path(__file__).with_name("migrations"),
    settings=RechargeSettings,
    app_factory=create,
    worker=worker.run,
    consumed_topics=[topics.MODERATION_COMMANDS],
    handlers=HANDLERS,
)


if __name__ == "__main__":
    main(SPEC)
