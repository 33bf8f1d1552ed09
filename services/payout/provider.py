"""The payout-provider port, and a sandbox provider that settles asynchronously by posting an
HMAC-SHA256-signed callback (over the raw body) back to the payout API after a delay."""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field

from eventkit.webhooks import (  # noqa: F401 - re-exported: payout's callers import them here
    MAX_BACKOFF_SECONDS,
    SIGNATURE_HEADER,
    Deliver,
    deliver_claimed,
    http_deliver,
    sign,
    signature_ok,
)
from schemas.text import Id, Text
from services.payout.conversion import SandboxConfig


@dataclass(frozen=True)
class PayoutOrder:
    payout_id: str
    creator_id: str
    amount_minor: int
    currency: str
    method: str


class PayoutProvider(Protocol):
    name: str

    async def submit(self, order: PayoutOrder) -> str:
        """Accepts the order (idempotent on payout_id) and returns the provider's reference;
        the outcome arrives later through a callback."""


class SandboxCallback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID
    payout_id: uuid.UUID
    provider_ref: Id = Field(max_length=200)
    outcome: Literal["completed", "failed"]
    detail: Text | None = Field(default=None, max_length=500)


class SandboxProvider:
    """Behaviour comes from config: outcome `success` or `failure` (with a detail), and a delay.
    Its books are the `sandbox_payouts` table: the callback is stored when the payout is
    accepted, delivered after the delay, and redelivered with backoff (`deliver_due`, run by
    the payout worker) until the API answers 2xx, so a crash of the accepting process loses no
    settlement."""

    name = "sandbox"

    def __init__(
        self,
        pool: asyncpg.Pool,
        secret: str,
        deliver: Deliver,
        outcome: str = "success",
        failure_detail: str = "declined",
        delay_seconds: float = 1.0,
        retry_seconds: float = 0.5,
        max_attempts: int = 15,
    ):
        if outcome not in ("success", "failure"):
            raise ValueError(f"sandbox outcome must be success or failure, not {outcome!r}")
        self.pool, self.secret, self.deliver = pool, secret, deliver
        self.outcome, self.failure_detail = outcome, failure_detail
        self.delay, self.retry, self.max_attempts = delay_seconds, retry_seconds, max_attempts
        self.tasks: set[asyncio.Task] = set()

    @classmethod
    def from_config(
        cls, pool: asyncpg.Pool, raw: SandboxConfig, secret: str, deliver: Deliver
    ) -> "SandboxProvider":
        return cls(pool, secret, deliver, raw.outcome, raw.failure_detail, raw.delay_seconds)

    async def submit(self, order: PayoutOrder) -> str:
        ref = f"sbx-{uuid.uuid4().hex[:16]}"
        made = await self.pool.fetchval(
            "INSERT INTO sandbox_payouts (payout_id, provider_ref, body, due_at)"
            " VALUES ($1, $2, $3, now() + make_interval(secs => $4))"
            " ON CONFLICT (payout_id) DO NOTHING RETURNING provider_ref",
            uuid.UUID(order.payout_id),
            ref,
            self.callback_body(order, ref),
            self.delay,
        )
        if made is None:  # idempotent: one settlement per payout
            return await self.pool.fetchval(
                "SELECT provider_ref FROM sandbox_payouts WHERE payout_id = $1",
                uuid.UUID(order.payout_id),
            )
        task = asyncio.create_task(self._deliver_later(order.payout_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return made

    def callback_body(self, order: PayoutOrder, ref: str) -> bytes:
        ok = self.outcome == "success"
        return orjson.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "payout_id": order.payout_id,
                "provider_ref": ref,
                "outcome": "completed" if ok else "failed",
                "detail": None if ok else self.failure_detail,
            }
        )

    async def _deliver_later(self, payout_id: str) -> None:
        await asyncio.sleep(self.delay)
        await self.deliver_due(payout_id=payout_id)

    async def deliver_due(self, payout_id: str | None = None, batch: int = 100) -> int:
        """Delivers undelivered settlement webhooks whose time has come (or the first attempt of
        `payout_id`'s). Each attempt pushes the next one back (exponential backoff), so several
        deliverers never send one at the same moment. Returns how many were answered."""
        rows = await self.pool.fetch(
            "UPDATE sandbox_payouts SET attempts = attempts + 1, due_at = now() +"
            " make_interval(secs => least($1 * 2 ^ attempts, $5)) WHERE payout_id IN ("
            "  SELECT payout_id FROM sandbox_payouts WHERE delivered_at IS NULL"
            "  AND attempts < $2 AND (($3::uuid IS NULL AND due_at <= now())"
            "   OR (payout_id = $3::uuid AND attempts = 0))"
            "  ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING payout_id, body",
            self.retry,
            self.max_attempts,
            uuid.UUID(payout_id) if payout_id else None,
            batch,
            MAX_BACKOFF_SECONDS,
        )
        # e.g. a 409 before the payout is marked submitted: not delivered, tried again later
        return await deliver_claimed(
            self.pool,
            self.deliver,
            self.secret,
            ({"id": r["payout_id"], "body": r["body"]} for r in rows),
            "UPDATE sandbox_payouts SET last_status = $2,"
            " delivered_at = CASE WHEN $3 THEN now() END WHERE payout_id = $1",
        )

    async def drain(self) -> None:
        """Waits for every scheduled first delivery (tests, graceful shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
