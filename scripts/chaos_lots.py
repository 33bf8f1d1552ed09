"""Bonus lots in the chaos load (docs/bonus-lots.md), for scripts/chaos.py to run beside it.

The lots themselves come from the load's coupon redemptions and promo codes (recharge). Their
expiry is days away, so `expire_ahead` runs the gifting worker's own expiry step with a clock
`ahead` of the real one, now and then, while the load's gifts and unlocks spend the same lots:
each lot's coins must end up spent or expired, never both and never lost, which reconcile checks
(scripts/reconcile_lots.py, in reconcile.CHECKS) after the run like every other invariant.
"""

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta

import asyncpg

from eventkit.db import create_pool
from eventkit.settings import Settings
from services.gifting.lots_expiry import expire_due

log = logging.getLogger(__name__)
AHEAD = timedelta(days=400)  # past any campaign's bonus_expires_after_days in the load


async def expire_ahead(
    settings: Settings, plan: random.Random, deadline: float, ahead: timedelta = AHEAD
) -> dict[str, int]:
    """Until the loop's `deadline`, expires the lots due before now + `ahead` every 1-3 s (a
    database outage is waited out, as the worker does); returns the lots and coins expired."""
    loop = asyncio.get_running_loop()
    done = {"lots": 0, "coins": 0}
    pool = await create_pool(settings.database_for("gifting"))
    try:
        while loop.time() < deadline:
            await asyncio.sleep(plan.uniform(1.0, 3.0))
            try:
                for k, v in (await expire_due(pool, datetime.now(UTC) + ahead)).items():
                    done[k] += v
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("bonus expiry step failed (%r); retrying", exc)
    finally:
        await pool.close()
    return done
