from pathlib import Path

from eventkit.service import ServiceSpec, main
from schemas import topics
from services.gifting.api import create
from services.gifting.handlers import HANDLERS
from services.gifting.subscription_renewals import run as renewals

SPEC = ServiceSpec(
    name="gifting",
    migrations=Path(__file__).with_name("migrations"),
    app_factory=create,
    worker=renewals,  # subscription renewals
    consumed_topics=[topics.RECHARGE_EVENTS, topics.SANCTIONS_EVENTS, topics.ACCOUNTS_EVENTS],
    handlers=HANDLERS,
)

if __name__ == "__main__":
    main(SPEC)
