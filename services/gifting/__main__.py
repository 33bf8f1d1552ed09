import asyncio
from pathlib import Path

from eventkit.service import ServiceSpec, main
from eventkit.settings import Settings
from schemas import topics
from services.gifting import battles, lots_expiry
from services.gifting.api import create
from services.gifting.handlers import HANDLERS
from services.gifting.subscription_renewals import run as renewals


async def worker(settings: Settings) -> None:
    """gifting-worker: subscription renewals, battles ended at their time, and bonus lots
    expired at theirs."""
    await asyncio.gather(renewals(settings), battles.run(settings), lots_expiry.run(settings))


SPEC = ServiceSpec(
    name="gifting",
    migrations=Path(__file__).with_name("migrations"),
    app_factory=create,
    worker=worker,
    consumed_topics=[topics.RECHARGE_EVENTS, topics.SANCTIONS_EVENTS, topics.ACCOUNTS_EVENTS],
    handlers=HANDLERS,
)

if __name__ == "__main__":
    main(SPEC)
