"""Every (type, version) a consumer may meet, and the model that validates it."""

from schemas.events.base import Payload
from schemas.events.gifting import GiftSent
from schemas.events.payout import DiamondsCredited, PayoutRequested
from schemas.events.recharge import CoinPurchased, PurchaseFailed

PAYLOADS: dict[tuple[str, int], type[Payload]] = {
    (m.event_type, m.version): m
    for m in (CoinPurchased, PurchaseFailed, GiftSent, DiamondsCredited, PayoutRequested)
}


def payload_model(event_type: str, version: int) -> type[Payload] | None:
    return PAYLOADS.get((event_type, version))
