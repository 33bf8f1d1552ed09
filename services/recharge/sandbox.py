"""The sandbox payment provider: behaves like a real one, for development and tests.

A payment's outcome is chosen by its payment-method test token: `sandbox_success` (the
default), `sandbox_decline` or `sandbox_timeout` (the provider never answers). The outcome is
announced by a webhook signed with HMAC-SHA256 over the body, delivered shortly after the
purchase commits and redelivered with backoff until it is answered 2xx, as real providers do;
its books live in the `sandbox_*` tables so a crash of the delivering process loses nothing.
`reverse()` plays a refund or chargeback (`python -m services.recharge.sandbox reverse TXN
REASON` does the same from a shell).
"""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import orjson

from eventkit.webhooks import MAX_BACKOFF_SECONDS, Deliver, deliver_claimed
from schemas.money import Money
from services.recharge.provider import PaymentOrder

TEST_TOKENS = {
    "sandbox_success": "success",
    "sandbox_decline": "decline",
    "sandbox_timeout": "timeout",
}
DEFAULT_TOKEN = "sandbox_success"
DECLINE_DETAIL = "card_declined: insufficient_funds"


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        pool: asyncpg.Pool,
        secret: str,
        deliver: Deliver,
        delay_seconds: float = 0.2,
        retry_seconds: float = 3.0,
        max_attempts: int = 15,
    ):
        self.pool, self.secret, self.deliver = pool, secret, deliver
        self.delay, self.retry, self.max_attempts = delay_seconds, retry_seconds, max_attempts
        self.tasks: set[asyncio.Task] = set()

    def accepts(self, payment_method: str) -> bool:
        return payment_method in TEST_TOKENS

    async def create_payment(self, conn: asyncpg.Connection, order: PaymentOrder) -> str:
        outcome = TEST_TOKENS[order.payment_method]
        txn = await conn.fetchval(
            "INSERT INTO sandbox_payments (provider_txn_id, purchase_id, amount_minor, currency,"
            " outcome) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (purchase_id) DO NOTHING"
            " RETURNING provider_txn_id",
            f"sbx_{uuid4().hex}",
            order.purchase_id,
            order.amount.amount_minor,
            order.amount.currency,
            outcome,
        )
        if txn is None:  # idempotent on purchase_id, like a provider's idempotency key
            return await conn.fetchval(
                "SELECT provider_txn_id FROM sandbox_payments WHERE purchase_id = $1",
                order.purchase_id,
            )
        if outcome != "timeout":
            kind = "payment.succeeded" if outcome == "success" else "payment.declined"
            await self._queue(
                conn,
                txn,
                kind,
                None,
                DECLINE_DETAIL if outcome == "decline" else None,
                self.delay + self.retry,  # the worker's fallback, if we crash
                (order.purchase_id, order.amount.amount_minor, order.amount.currency),
            )
        return txn

    def after_commit(self, provider_txn_id: str) -> None:
        self._soon(provider_txn_id, self.delay)

    async def refund(self, provider_txn_id: str, amount: Money) -> str:
        async with self.pool.acquire() as conn:
            made = await conn.fetchval(
                "INSERT INTO sandbox_refunds (provider_txn_id, refund_id, amount_minor, currency)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (provider_txn_id) DO NOTHING"
                " RETURNING refund_id",
                provider_txn_id,
                f"sbx_rf_{uuid4().hex}",
                amount.amount_minor,
                amount.currency,
            )
            return made or await conn.fetchval(
                "SELECT refund_id FROM sandbox_refunds WHERE provider_txn_id = $1", provider_txn_id
            )

    async def reverse(
        self, provider_txn_id: str, reason_code: str, detail: str | None = None
    ) -> None:
        """A refund or chargeback on a payment, announced like any other outcome."""
        async with self.pool.acquire() as conn:
            await self._queue(conn, provider_txn_id, "payment.reversed", reason_code, detail, 0)
        self._soon(provider_txn_id, 0)

    async def _queue(
        self,
        conn,
        txn: str,
        kind: str,
        reason_code: str | None,
        detail: str | None,
        due_in: float,
        payment: tuple | None = None,
    ) -> None:
        """Queues a notification about payment `txn` ((purchase_id, amount_minor, currency),
        read from the sandbox's books when not given)."""
        if payment is None:
            payment = await conn.fetchrow(
                "SELECT purchase_id, amount_minor, currency FROM"
                " sandbox_payments WHERE provider_txn_id = $1",
                txn,
            )
            if payment is None:
                raise LookupError(f"sandbox has no payment {txn}")
        purchase_id, amount_minor, currency = payment
        body = orjson.dumps(
            {
                "event_id": f"evt_{uuid4().hex}",
                "type": kind,
                "provider_txn_id": txn,
                "purchase_id": str(purchase_id),
                "amount": {"amount_minor": amount_minor, "currency": currency},
                "reason_code": reason_code,
                "detail": detail,
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
        await conn.execute(
            "INSERT INTO sandbox_notifications (provider_txn_id, body, due_at)"
            " VALUES ($1, $2, now() + make_interval(secs => $3))",
            txn,
            body,
            due_in,
        )

    def _soon(self, txn: str, delay: float) -> None:
        async def later():
            await asyncio.sleep(delay)
            await self.deliver_due(txn=txn)

        task = asyncio.create_task(later())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def deliver_due(
        self, now: datetime | None = None, txn: str | None = None, batch: int = 100
    ) -> int:
        """Delivers undelivered notifications, oldest first: the first attempt of those of
        `txn` at once, or every one whose time has come. Each attempt pushes the next one back
        (exponential backoff), so several deliverers never send the same one at the same
        moment. Returns how many were answered 2xx."""
        rows = await self.pool.fetch(
            "UPDATE sandbox_notifications n SET attempts = attempts + 1, due_at = now() +"
            " make_interval(secs => least($1 * 2 ^ attempts, $2)) WHERE id IN ("
            "  SELECT id FROM sandbox_notifications WHERE delivered_at IS NULL"
            "  AND attempts < $3 AND ((provider_txn_id = $4 AND attempts = 0)"
            "   OR ($4 IS NULL AND due_at <= $5))"
            "  ORDER BY id LIMIT $6 FOR UPDATE SKIP LOCKED) RETURNING id, body",
            self.retry,
            MAX_BACKOFF_SECONDS,
            self.max_attempts,
            txn,
            now or datetime.now(UTC),
            batch,
        )
        return await deliver_claimed(
            self.pool,
            self.deliver,
            self.secret,
            sorted(rows, key=lambda r: r["id"]),  # a payment's outcome before its reversal
            "UPDATE sandbox_notifications SET last_status = $2,"
            " delivered_at = CASE WHEN $3 THEN now() END WHERE id = $1",
        )

    async def drain(self) -> None:
        """Waits for every scheduled delivery (tests, graceful shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


if __name__ == "__main__":
    import argparse

    from eventkit.db import create_pool
    from eventkit.settings import Settings
    from eventkit.webhooks import http_deliver
    from services.recharge.settings import RechargeSettings

    parser = argparse.ArgumentParser(description="Play a refund/chargeback in the sandbox")
    parser.add_argument("action", choices=["reverse"])
    parser.add_argument("provider_txn_id")
    parser.add_argument(
        "reason_code",
        choices=["cancellation", "chargeback", "suspected_fraud", "friendly_fraud", "duplicate"],
    )
    parser.add_argument("--url", default="http://127.0.0.1:8001/v1/webhooks/sandbox")
    args = parser.parse_args()

    async def main() -> None:
        import httpx

        local = RechargeSettings()
        pool = await create_pool(Settings().database_for("recharge"), min_size=1, max_size=2)
        async with httpx.AsyncClient(timeout=10) as http:
            sandbox = SandboxProvider(pool, local.webhook_secret, http_deliver(http, args.url))
            await sandbox.reverse(args.provider_txn_id, args.reason_code)
            await sandbox.drain()
        await pool.close()

    asyncio.run(main())
