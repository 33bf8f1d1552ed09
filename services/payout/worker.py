"""The payout worker (`python -m services.payout worker`): on every tick it voids payouts past
their settlement timeout, releases reserves whose window is over, hands approved payouts to the
provider, and lets the sandbox provider redeliver the settlement webhooks the API has not
answered. Every step is safe to run in several workers at once."""

import logging
from datetime import UTC, datetime

import asyncpg

from eventkit.db import each_locked
from eventkit.settings import Settings
from eventkit.ticks import every
from schemas.events.payout import PayoutSubmitted
from services.payout.bootstrap import bootstrap
from services.payout.ledger import bump_version, emit, release_due
from services.payout.lifecycle import void_overdue
from services.payout.provider import PayoutOrder, PayoutProvider

log = logging.getLogger(__name__)


async def submit_ready(pool: asyncpg.Pool, provider: PayoutProvider, batch: int = 200) -> int:
    """Sends pending (approved) payouts to the provider and marks them submitted, holding the
    payout's row lock meanwhile: a second worker skips it, and a callback that arrives before
    the mark waits for it instead of overtaking it. A crash before the commit leaves the payout
    pending, so it is only re-sent (the provider is idempotent on payout_id)."""

    async def submit(conn, r) -> None:
        ref = await provider.submit(
            PayoutOrder(
                str(r["payout_id"]), r["creator_id"], r["amount_minor"], r["currency"], r["method"]
            )
        )
        await conn.execute(
            "UPDATE payouts SET status = 'submitted', provider = $2,"
            " provider_ref = $3 WHERE payout_id = $1",
            r["payout_id"],
            provider.name,
            ref,
        )
        version = await bump_version(conn, r["creator_id"])
        await emit(
            conn,
            r["creator_id"],
            version,
            PayoutSubmitted(
                payout_id=str(r["payout_id"]),
                creator_id=r["creator_id"],
                provider=provider.name,
                provider_ref=ref,
            ),
        )

    ids = [
        r["payout_id"]
        for r in await pool.fetch(
            "SELECT payout_id FROM payouts WHERE status = 'pending' ORDER BY requested_at LIMIT $1",
            batch,
        )
    ]
    return await each_locked(
        pool,
        ids,
        "SELECT payout_id, creator_id, amount_minor, currency,"
        " method FROM payouts WHERE payout_id = $1 AND status = 'pending'"
        " FOR UPDATE SKIP LOCKED",
        submit,
    )


async def tick(
    pool: asyncpg.Pool, provider: PayoutProvider, now: datetime, batch: int = 200
) -> dict[str, int]:
    return {
        "voided": await void_overdue(pool, now, batch),
        "released": await release_due(pool, now, batch),
        "submitted": await submit_ready(pool, provider, batch),
    }


async def run(settings: Settings) -> None:
    async with bootstrap(settings) as payout:
        batch = payout.config.worker.batch

        async def once() -> dict[str, int]:
            done = await tick(payout.pool, payout.provider, datetime.now(UTC), batch)
            done["redelivered"] = await payout.provider.deliver_due()
            return done

        await every(payout.config.worker.interval_seconds, once, log)
