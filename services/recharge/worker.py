"""The recharge worker (`python -m services.recharge worker`): on every tick it fails purchases
whose payment timed out, refunds payments owed back (a success after the timeout), and lets
the sandbox provider redeliver webhooks nobody answered (after an API crash, say). All are safe
to run in several workers at once."""

import logging
from datetime import UTC, datetime

from eventkit.settings import Settings
from eventkit.ticks import every
from services.recharge.bootstrap import Recharge, bootstrap
from services.recharge.payments import expire_overdue, refund_owed

log = logging.getLogger(__name__)


async def tick(recharge: Recharge, now: datetime) -> dict[str, int]:
    return {
        "expired": await expire_overdue(recharge.pool, now),
        "refunded": await refund_owed(recharge.pool, recharge.provider),
        "redelivered": await recharge.provider.deliver_due(now),
    }


async def run(settings: Settings) -> None:
    async with bootstrap(settings) as recharge:
        interval = recharge.settings.worker_interval_seconds
        await every(interval, lambda: tick(recharge, datetime.now(UTC)), log)
