"""The renewal worker (`python -m services.gifting worker`): at each tick it renews the
subscriptions whose period has ended from their fans' wallets, retries those in grace, and
ends those that lapse (cancelled, gifted, grace over, a banned creator or fan).

Each subscription is handled in a transaction of its own that claims its row with FOR UPDATE
SKIP LOCKED, so several workers share the work and never wait on each other, and a worker
killed mid-run loses only its open transaction: the row comes back unclaimed and nothing of it
was committed. A period is paid once whatever happens: subscription_periods is keyed
(subscription, period) and the claimed row names the period it pays next.
"""

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from eventkit.db import create_pool
from eventkit.settings import Settings
from eventkit.ticks import every
from schemas.events.subscriptions import (
    SubscriptionLapsed,
    SubscriptionRenewalFailed,
    SubscriptionRenewed,
)
from services.gifting import accounts, ledger
from services.gifting.subscription_rules import (
    Charge,
    Due,
    Lapse,
    NotDue,
    SubscriptionConfig,
    after_short,
    before_debit,
    load_config,
)
from services.gifting.subscription_store import COLUMNS, KIND, charge, emit, entitlement

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 5.0

CLAIM = (
    f"SELECT {COLUMNS}, attempts FROM subscriptions"
    " WHERE status <> 'ended' AND next_attempt_at <= $1"
    " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
)

# Between the claim and the commit, for tests that kill a worker there (None: nothing).
Pause = Callable[[asyncpg.Record], Awaitable[None]] | None


async def renew_due(
    pool: asyncpg.Pool, now: datetime, limit: int = 500, pause: Pause = None
) -> dict[str, int]:
    """Handles up to `limit` due subscriptions, one transaction each; counts per outcome."""
    done: Counter[str] = Counter()
    config = load_config()
    for _ in range(limit):
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(CLAIM, now)
            if row is None:
                break
            outcome = await renew_one(conn, row, now, config)
            if pause is not None:
                await pause(row)
        done[outcome] += 1
    return dict(done)


def due_of(row: asyncpg.Record) -> Due:
    return Due(
        status=row["status"],
        auto_renew=row["auto_renew"],
        gifted=row["gift_id"] is not None,
        period=row["period"],
        period_end=row["period_end"],
        grace_until=row["grace_until"],
        attempts=row["attempts"],
    )


async def renew_one(
    conn: asyncpg.Connection, row: asyncpg.Record, now: datetime, config: SubscriptionConfig
) -> str:
    due = due_of(row)
    fan, creator = row["fan_id"], row["creator_id"]
    step = before_debit(
        due,
        now,
        creator_banned=await accounts.banned(conn, creator, "receive"),
        fan_banned=await accounts.banned(conn, fan, "gift"),
        config=config,
    )
    if isinstance(step, NotDue):
        await conn.execute(
            "UPDATE subscriptions SET next_attempt_at = $2 WHERE subscription_id = $1",
            row["subscription_id"],
            step.next_attempt_at,
        )
        return "not-due"
    if isinstance(step, Lapse):
        await lapse(conn, row, step, config)
        return "lapsed"
    spent = await ledger.spend(conn, fan, row["coins"])
    if spent is None:
        short = after_short(due, now, config)
        if isinstance(short, Lapse):
            await lapse(conn, row, short, config)
            return "lapsed"
        version = await conn.fetchval(
            "UPDATE subscriptions SET status = 'grace', grace_until = $2, attempts = $3,"
            " next_attempt_at = $4, version = version + 1 WHERE subscription_id = $1"
            " RETURNING version",
            row["subscription_id"],
            short.grace_until,
            short.attempt,
            short.next_attempt_at,
        )
        failed = SubscriptionRenewalFailed(
            subscription_id=str(row["subscription_id"]),
            fan_id=fan,
            creator_id=creator,
            period=row["period"] + 1,
            coins=row["coins"],
            balance=await ledger.balance(conn, fan),
            attempt=short.attempt,
            grace_until=short.grace_until,
            next_attempt_at=short.next_attempt_at,
        )
        await emit(conn, failed, f"subscription-{row['subscription_id']}", version, fan)
        return "grace"
    await renewed(conn, row, step, spent, now, config)
    return "renewed"


async def renewed(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    step: Charge,
    spent: tuple[int, int],
    now: datetime,
    config: SubscriptionConfig,
) -> None:
    balance, wallet_version = spent
    await conn.execute(
        "UPDATE subscriptions SET status = 'active', grace_until = NULL, attempts = 0,"
        " period = $2, period_start = $3, period_end = $4, next_attempt_at = $4,"
        " version = version + 1 WHERE subscription_id = $1",
        row["subscription_id"],
        step.period,
        step.period_start,
        step.period_end,
    )
    payload = SubscriptionRenewed(
        payer_id=row["fan_id"],
        creator_id=row["creator_id"],
        coins=row["coins"],
        creator_share=config.creator_share,
        diamonds_per_coin=config.diamonds_per_coin,
        rates_version=config.rates_version,
        balance_after=balance,
        subscription_id=str(row["subscription_id"]),
        fan_id=row["fan_id"],
        period=step.period,
        period_start=step.period_start,
        period_end=step.period_end,
        entitlement=entitlement(row["prior_months"] + step.period, config),
    )
    await charge(
        conn,
        row["fan_id"],
        KIND,
        payload,
        wallet_version,
        [(row["subscription_id"], step.period)],
        now,
    )


async def lapse(
    conn: asyncpg.Connection, row: asyncpg.Record, step: Lapse, config: SubscriptionConfig
) -> None:
    version = await conn.fetchval(
        "UPDATE subscriptions SET status = 'ended', grace_until = NULL, ended_reason = $2,"
        " version = version + 1 WHERE subscription_id = $1 RETURNING version",
        row["subscription_id"],
        step.reason,
    )
    payload = SubscriptionLapsed(
        subscription_id=str(row["subscription_id"]),
        fan_id=row["fan_id"],
        creator_id=row["creator_id"],
        reason=step.reason,
        periods=row["period"],
        entitlement=entitlement(row["prior_months"] + row["period"], config),
    )
    await emit(conn, payload, f"subscription-{row['subscription_id']}", version, row["fan_id"])


async def run(settings: Settings) -> None:
    pool = await create_pool(settings.database_for("gifting"))
    try:
        await every(INTERVAL_SECONDS, lambda: renew_due(pool, datetime.now(UTC)), log)
    finally:
        await pool.close()
