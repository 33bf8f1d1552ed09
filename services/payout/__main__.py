from pathlib import Path

from eventkit.service import ServiceSpec, main
from schemas import topics
from services.payout.api import create
from services.payout.handlers import HANDLERS

SPEC = ServiceSpec(name="payout", migrations=Path(__file__).with_name("migrations"),
                   app_factory=create, default_port=8003,
                   consumed_topics=[topics.GIFTING_EVENTS], handlers=HANDLERS)

if __name__ == "__main__":
    main(SPEC)
