"""The payout-provider port, and a sandbox provider that settles asynchronously by posting an
HMAC-SHA256-signed callback (over the raw body) back to the payout API after a delay."""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field

from eventkit.webhooks import (  # noqa: F401 - re-exported: payout's callers import them here
    SIGNATURE_HEADER,
    Deliver,
    http_deliver,
    sign,
    signature_ok,
)

log = logging.getLogger(__name__)


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
    provider_ref: str = Field(min_length=1, max_length=200)
    outcome: Literal["completed", "failed"]
    detail: str | None = Field(default=None, max_length=500)


class SandboxProvider:
    """Behaviour comes from config: outcome `success` or `failure` (with a detail), and a delay.
    A callback that gets no 2xx/4xx answer is retried; one that never lands leaves the payout to
    the settlement timeout."""

    name = "sandbox"

    def __init__(self, secret: str, deliver: Deliver, outcome: str = "success",
                 failure_detail: str = "declined", delay_seconds: float = 1.0,
                 attempts: int = 5):
        if outcome not in ("success", "failure"):
            raise ValueError(f"sandbox outcome must be success or failure, not {outcome!r}")
        self.secret, self.deliver = secret, deliver
        self.outcome, self.failure_detail = outcome, failure_detail
        self.delay, self.attempts = delay_seconds, attempts
        self.refs: dict[str, str] = {}
        self.tasks: set[asyncio.Task] = set()

    @classmethod
    def from_config(cls, raw: dict, secret: str, deliver: Deliver) -> "SandboxProvider":
        return cls(secret, deliver, raw["outcome"], raw["failure_detail"], raw["delay_seconds"])

    async def submit(self, order: PayoutOrder) -> str:
        if order.payout_id in self.refs:  # idempotent: one settlement per payout
            return self.refs[order.payout_id]
        ref = self.refs[order.payout_id] = f"sbx-{uuid.uuid4().hex[:16]}"
        task = asyncio.create_task(self._settle_later(order, ref))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return ref

    def callback_body(self, order: PayoutOrder, ref: str) -> bytes:
        ok = self.outcome == "success"
        return orjson.dumps({"event_id": str(uuid.uuid4()), "payout_id": order.payout_id,
                             "provider_ref": ref, "outcome": "completed" if ok else "failed",
                             "detail": None if ok else self.failure_detail})

    async def _settle_later(self, order: PayoutOrder, ref: str) -> None:
        await asyncio.sleep(self.delay)
        body = self.callback_body(order, ref)
        headers = {SIGNATURE_HEADER: sign(self.secret, body), "content-type": "application/json"}
        pause = 0.5
        for _ in range(self.attempts):
            try:
                if await self.deliver(body, headers) < 500:
                    return
            except httpx.HTTPError as exc:
                log.warning("sandbox callback for %s failed (%r); retrying", order.payout_id, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10)

    async def drain(self) -> None:
        """Waits for every scheduled callback (tests, graceful shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks))
