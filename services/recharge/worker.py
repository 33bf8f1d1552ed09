"""The recharge worker (`python -m services.recharge worker`): on every tick it fails purchases
whose payment timed out, refunds payments owed back (a success after the timeout), and lets
the sandbox provider redeliver webhooks nobody answered (after an API crash, say). All are safe
to run in several workers at once."""

import logging
from datetime import UTC, datetime

from eventkit.settings import Settings
from eventkit.ticks import every
from services.recharge.payments import expire_overdue, refund_owed

log = logging.getLogger(__name__)


async def tick(app, now: datetime) -> dict[str, int]:
    return {
        "expired": await expire_overdue(app.state.pool, now),
        "refunded": await refund_owed(app.state.pool, app.state.provider),
        "redelivered": await app.state.provider.deliver_due(now),
    }


async def run(settings: Settings) -> None:
    # The worker is the recharge app without a server: same pool, same sandbox provider, and
    # the sandbox delivers through the app's own webhook route.
    from services.recharge.api import create

    app = create(settings)
    async with app.router.lifespan_context(app):
        interval = app.state.recharge_settings.worker_interval_seconds
        await every(interval, lambda: tick(app, datetime.now(UTC)), log)
