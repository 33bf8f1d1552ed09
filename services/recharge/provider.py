"""The payment-provider port: create a payment now, learn its outcome later from a signed
webhook (a PaymentNotification). Purchases are idempotent on the provider's transaction id."""

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventkit.fields import Instant
from schemas.events.recharge import ClawbackReason
from schemas.money import Money
from schemas.text import Id, Text

FRAUD_REASONS = frozenset({"suspected_fraud", "friendly_fraud"})  # these also ban buying


@dataclass(frozen=True)
class PaymentOrder:
    purchase_id: UUID
    user_id: str
    amount: Money
    payment_method: str


class PaymentProvider(Protocol):
    name: str

    def accepts(self, payment_method: str) -> bool:
        """Whether the provider knows this payment-method token."""

    async def create_payment(self, conn: asyncpg.Connection, order: PaymentOrder) -> str:
        """Creates the payment (idempotent on purchase_id) and returns the provider's
        transaction id; the outcome arrives later as a webhook. `conn` is the purchase's
        transaction: a provider reached over HTTP ignores it."""

    def after_commit(self, provider_txn_id: str) -> None:
        """Called once the purchase is committed (a real provider needs nothing here)."""

    async def refund(self, provider_txn_id: str, amount: Money) -> str:
        """Refunds a payment in full (idempotent on the payment: a second call returns the
        first refund's id) and returns the provider's refund id."""


class PaymentNotification(BaseModel):
    """What a provider's webhook says about one payment (ids and text PostgreSQL can store)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "evt_5f0c1d2e",
                    "type": "payment.succeeded",
                    "provider_txn_id": "sbx_2b7e0d6c",
                    "purchase_id": "6f1c3a52-8d7b-4e0f-9a51-0c2d4b6e8f10",
                    "amount": {"amount_minor": 3749, "currency": "USD"},
                    "reason_code": None,
                    "detail": None,
                    "created_at": "2026-11-26T08:00:00Z",
                }
            ]
        },
    )

    event_id: Id = Field(max_length=200, description="Unique per notification")
    type: Literal["payment.succeeded", "payment.declined", "payment.reversed"]
    provider_txn_id: Id = Field(max_length=200)
    purchase_id: UUID
    amount: Money
    reason_code: ClawbackReason | None = Field(
        default=None, description="Why a payment was reversed (refund or chargeback)"
    )
    detail: Text | None = Field(default=None, max_length=500)
    created_at: Instant  # an RFC 3339 string with an offset, never a number

    @model_validator(mode="after")
    def _reason_for_reversals(self):
        if (self.type == "payment.reversed") != (self.reason_code is not None):
            raise ValueError("reason_code is required on payment.reversed and only there")
        return self
