"""Payment-provider port and the sandbox provider used in development and tests."""

from dataclasses import dataclass
from typing import Protocol
from uuid import uuid4

from schemas.money import Money


@dataclass(frozen=True)
class Charge:
    status: str  # "succeeded" | "declined"
    provider_txn_id: str
    reason: str | None = None


class PaymentProvider(Protocol):
    name: str

    async def charge(self, purchase_id: str, amount: Money) -> Charge: ...


class SandboxProvider:
    """Succeeds every charge, like a test card that always clears."""

    name = "sandbox"

    async def charge(self, purchase_id: str, amount: Money) -> Charge:
        return Charge(status="succeeded", provider_txn_id=f"sbx_{uuid4().hex}")
