"""A purchase's life after it was created, in PostgreSQL: pending -> confirmed | failed, and
confirmed -> reversed. Each move is one conditional UPDATE on status (so it happens once,
whatever order or how many times the webhooks arrive) plus its event on the purchase's stream,
in the caller's transaction.

Stream `purchase-<id>`: v1 PurchaseCreated, v2 CoinPurchased | PurchaseFailed, v3
CoinsClawedBack (after CoinPurchased) | PaymentRefundDue (after PurchaseFailed: a late
success), v4 PaymentRefunded. Kafka keys by stream, so gifting sees a credit before its
clawback.
"""

import logging
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from eventkit.db import each_locked
from eventkit.streams import EventStreams
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.recharge import (
    ClawbackReason,
    CoinPurchased,
    CoinsClawedBack,
    PaymentRefundDue,
    PaymentRefunded,
    PurchaseFailed,
)
from schemas.money import Money
from services.recharge import bans
from services.recharge import promotions_store as promos
from services.recharge.errors import NotYetConfirmed, PurchaseNotFound, WebhookMismatch
from services.recharge.provider import FRAUD_REASONS, PaymentNotification, PaymentProvider

log = logging.getLogger(__name__)
SOURCE = "/coinstream/recharge"


# Every event of a purchase's stream is about its buyer: `emit(conn, purchase_id, version,
# payload, user_id, cause=...)`.
PURCHASES = EventStreams(source=SOURCE, topic=topics.RECHARGE_EVENTS, prefix="purchase")
emit = PURCHASES.emit


def _money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor=amount_minor, currency=currency)


async def _move(
    conn, purchase_id: UUID, to: str, frm: str, now: datetime, **columns
) -> asyncpg.Record | None:
    sets = "".join(f", {name} = ${i + 5}" for i, name in enumerate(columns))
    return await conn.fetchrow(
        f"UPDATE purchases SET status = $2, resolved_at = $4{sets}"
        " WHERE purchase_id = $1 AND status = $3 RETURNING *",
        purchase_id,
        to,
        frm,
        now,
        *columns.values(),
    )


async def confirm(conn, purchase_id: UUID, now: datetime) -> Envelope | None:
    row = await _move(conn, purchase_id, "confirmed", "pending", now)
    if row is None:
        return None
    q = row["quote"]
    # A promo code held by the purchase takes effect with it (and only if it completes).
    use = await promos.held_by(conn, purchase_id)
    event = await emit(
        conn,
        purchase_id,
        2,
        CoinPurchased(
            purchase_id=str(purchase_id),
            user_id=row["user_id"],
            bundle_id=row["bundle_id"],
            coins=row["coins"],
            country=row["country"],
            channel=row["channel"],
            price=_money(row["price_minor"], row["price_currency"]),
            settlement=_money(row["settlement_minor"], row["settlement_currency"]),
            fee=Money(**q["fee"]),
            fx_rate=Decimal(q["fx_rate"]),
            fee_rate=Decimal(q["fee_rate"]),
            catalog_version=q["catalog_version"],
            rates_version=q["rates_version"],
            price_list=q["price_list"],
            provider=row["provider"],
            provider_txn_id=row["provider_txn_id"],
            promo_code=use["code"] if use else None,
            campaign_id=use["campaign_id"] if use else None,
            discount=promos.discount_of(use) if use else None,
        ),
        row["user_id"],
    )
    if use is not None:
        await promos.redeem(conn, use, now, cause=event)
    return event


async def fail(
    conn, purchase_id: UUID, reason: str, detail: str | None, now: datetime
) -> Envelope | None:
    row = await _move(conn, purchase_id, "failed", "pending", now, failure_reason=reason)
    if row is None:
        return None
    await promos.release(conn, purchase_id)
    return await emit(
        conn,
        purchase_id,
        2,
        PurchaseFailed(
            purchase_id=str(purchase_id),
            user_id=row["user_id"],
            bundle_id=row["bundle_id"],
            reason=reason,
            detail=detail,
            provider=row["provider"],
            provider_txn_id=row["provider_txn_id"],
        ),
        row["user_id"],
    )


async def reverse(
    conn, purchase_id: UUID, reason_code: ClawbackReason, now: datetime
) -> Envelope | None:
    """Claws the coins back (the wallet may go negative); fraud codes also ban buying."""
    row = await _move(conn, purchase_id, "reversed", "confirmed", now, reversal_reason=reason_code)
    if row is None:
        return None
    event = await emit(
        conn,
        purchase_id,
        3,
        CoinsClawedBack(
            purchase_id=str(purchase_id),
            user_id=row["user_id"],
            coins=row["coins"],
            reason_code=reason_code,
            provider=row["provider"],
            provider_txn_id=row["provider_txn_id"],
            settlement=_money(row["settlement_minor"], row["settlement_currency"]),
        ),
        row["user_id"],
    )
    if reason_code in FRAUD_REASONS:
        await bans.place(
            conn,
            f"fraud-{purchase_id}",
            row["user_id"],
            ["buy"],
            f"{reason_code} on purchase {purchase_id}",
            "fraud",
            None,
            cause=event,
        )
    return event


AFTER = {
    "payment.succeeded": "confirmed",
    "payment.declined": "failed",
    "payment.reversed": "reversed",
}


async def apply_notification(
    conn, provider: str, n: PaymentNotification, now: datetime
) -> tuple[str, bool]:
    """Applies one verified webhook; returns (purchase status after, whether it changed
    anything). Duplicates and replays find their notification already recorded; anything
    that no longer applies (a late or contradicting outcome) changes nothing."""
    row = await conn.fetchrow(
        "SELECT purchase_id, status, price_minor, price_currency FROM purchases"
        " WHERE provider = $1 AND provider_txn_id = $2 FOR UPDATE",
        provider,
        n.provider_txn_id,
    )
    if row is None:
        raise PurchaseNotFound(f"no purchase with {provider} transaction {n.provider_txn_id}")
    if row["purchase_id"] != n.purchase_id or (row["price_minor"], row["price_currency"]) != (
        n.amount.amount_minor,
        n.amount.currency,
    ):
        raise WebhookMismatch("purchase id or amount differs from the purchase on record")
    fresh = await conn.fetchval(
        "INSERT INTO provider_notifications (provider, event_id, provider_txn_id, kind, outcome)"
        " VALUES ($1, $2, $3, $4, 'received') ON CONFLICT DO NOTHING RETURNING true",
        provider,
        n.event_id,
        n.provider_txn_id,
        n.type,
    )
    if not fresh:
        return row["status"], False
    pid, status = row["purchase_id"], row["status"]
    if n.type == "payment.succeeded":
        event = await confirm(conn, pid, now)
        if event is None and status == "failed":
            await refund_due(conn, pid)
    elif n.type == "payment.declined":
        event = await fail(conn, pid, "declined", n.detail, now)
    else:
        if status == "pending":
            raise NotYetConfirmed("the payment's confirmation has not arrived yet")
        assert n.reason_code is not None  # PaymentNotification requires one on a reversal
        event = await reverse(conn, pid, n.reason_code, now)
    outcome = "applied" if event else f"ignored: purchase was {status}"
    await conn.execute(
        "UPDATE provider_notifications SET outcome = $3 WHERE provider = $1 AND event_id = $2",
        provider,
        n.event_id,
        outcome,
    )
    return (AFTER[n.type] if event else status), event is not None


async def refund_due(conn, purchase_id: UUID) -> None:
    """Money taken after we gave up waiting: no coins now, the payment is owed back (the
    worker's refund_owed hands it to the provider). Once per purchase, however many late
    successes arrive."""
    row = await conn.fetchrow(
        "UPDATE purchases SET late_success = true, refund_status = 'due'"
        " WHERE purchase_id = $1 AND status = 'failed' AND refund_status IS NULL RETURNING *",
        purchase_id,
    )
    if row is None:
        return
    log.warning("late success for failed purchase %s: refund due", purchase_id)
    await emit(
        conn,
        purchase_id,
        3,
        PaymentRefundDue(
            purchase_id=str(purchase_id),
            user_id=row["user_id"],
            provider=row["provider"],
            provider_txn_id=row["provider_txn_id"],
            amount=_money(row["price_minor"], row["price_currency"]),
        ),
        row["user_id"],
    )


async def refund_owed(pool: asyncpg.Pool, provider: PaymentProvider, batch: int = 200) -> int:
    """Refunds payments owed back through the provider, holding the purchase's row lock
    meanwhile; a crash before the commit leaves it due, and the next call gets the same refund
    back (refund() is idempotent on the payment)."""

    async def refund(conn, row) -> None:
        amount = _money(row["price_minor"], row["price_currency"])
        refund_id = await provider.refund(row["provider_txn_id"], amount)
        await conn.execute(
            "UPDATE purchases SET refund_status = 'refunded', refund_id = $2"
            " WHERE purchase_id = $1",
            row["purchase_id"],
            refund_id,
        )
        await emit(
            conn,
            row["purchase_id"],
            4,
            PaymentRefunded(
                purchase_id=str(row["purchase_id"]),
                user_id=row["user_id"],
                provider=row["provider"],
                provider_txn_id=row["provider_txn_id"],
                refund_id=refund_id,
                amount=amount,
            ),
            row["user_id"],
        )

    ids = [
        r["purchase_id"]
        for r in await pool.fetch(
            "SELECT purchase_id FROM purchases WHERE refund_status = 'due' ORDER BY resolved_at"
            " LIMIT $1",
            batch,
        )
    ]
    return await each_locked(
        pool,
        ids,
        "SELECT * FROM purchases WHERE purchase_id = $1"
        " AND refund_status = 'due' FOR UPDATE SKIP LOCKED",
        refund,
    )


async def expire_overdue(pool: asyncpg.Pool, now: datetime, batch: int = 200) -> int:
    """Fails pending purchases past their pay-by time (PurchaseFailed, reason timeout)."""
    ids = await pool.fetch(
        "SELECT purchase_id FROM purchases WHERE status = 'pending'"
        " AND pay_by <= $1 ORDER BY pay_by LIMIT $2",
        now,
        batch,
    )
    expired = 0
    for r in ids:
        async with pool.acquire() as conn, conn.transaction():
            if await fail(
                conn, r["purchase_id"], "timeout", "no confirmation from the provider in time", now
            ):
                expired += 1
    return expired
