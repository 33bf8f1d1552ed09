"""Shared by the purchase, webhook and admin routes: a purchase's public view."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.money import Money


class PurchasePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "purchase_id": "6f1c3a52-8d7b-4e0f-9a51-0c2d4b6e8f10",
                    "status": "pending",
                    "bundle_id": "coins_3500",
                    "coins": 3500,
                    "channel": "web",
                    "price": {"amount_minor": 3749, "currency": "USD"},
                    "settlement": {"amount_minor": 3749, "currency": "USD"},
                    "fee": {"amount_minor": 112, "currency": "USD"},
                    "fx_rate": "1",
                    "catalog_version": 2,
                    "rates_version": 2,
                    "provider": "sandbox",
                    "provider_txn_id": "sbx_2b7e0d6c",
                    "created_at": "2026-11-26T08:00:00Z",
                    "pay_by": "2026-11-26T08:05:00Z",
                    "reason": None,
                    "event_id": "0b6f3c1e-2a4d-4c55-8e0f-1d2c3b4a5f60",
                }
            ]
        }
    )

    purchase_id: UUID
    status: str = Field(description="pending -> confirmed | failed; confirmed -> reversed")
    bundle_id: str
    coins: int
    channel: str
    price: Money = Field(description="What the buyer is charged")
    settlement: Money = Field(description="What the platform receives, before the fee")
    fee: Money
    fx_rate: str = Field(description="Settlement units per charge unit")
    catalog_version: int
    rates_version: int
    provider: str
    provider_txn_id: str | None
    created_at: datetime
    pay_by: datetime | None = Field(default=None, description="Fails as timeout after this")
    reason: str | None = Field(default=None, description="Why it failed or was reversed")
    refund: str | None = Field(
        default=None,
        description=(
            "due | refunded: a payment that succeeded after the purchase failed is refunded in "
            "full by the worker (the purchase stays failed, no coins)"
        ),
    )
    event_id: UUID | None = Field(default=None, description="PurchaseCreated's id")


def public(row, event_id: UUID | None = None) -> PurchasePublic:
    q = row["quote"]
    return PurchasePublic(
        purchase_id=row["purchase_id"],
        status=row["status"],
        bundle_id=row["bundle_id"],
        coins=row["coins"],
        channel=row["channel"],
        price=Money(amount_minor=row["price_minor"], currency=row["price_currency"]),
        settlement=Money(amount_minor=row["settlement_minor"], currency=row["settlement_currency"]),
        fee=Money(**q["fee"]),
        fx_rate=q["fx_rate"],
        catalog_version=q["catalog_version"],
        rates_version=q["rates_version"],
        provider=row["provider"],
        provider_txn_id=row["provider_txn_id"],
        created_at=row["created_at"],
        pay_by=row["pay_by"],
        reason=row["failure_reason"] or row["reversal_reason"],
        refund=row.get("refund_status"),
        event_id=event_id,
    )
