"""Every (type, version) a consumer may meet, and the model that validates it."""

from schemas.events import accounts, gifting, payout, recharge, sanctions
from schemas.events.base import Payload

MODELS: tuple[type[Payload], ...] = (
    recharge.PurchaseCreated,
    recharge.CoinPurchased,
    recharge.PurchaseFailed,
    recharge.CoinsClawedBack,
    recharge.PaymentRefundDue,
    recharge.PaymentRefunded,
    sanctions.TransactionBanPlaced,
    sanctions.TransactionBanLifted,
    sanctions.PlaceTransactionBan,
    sanctions.LiftTransactionBan,
    accounts.AccountProfileUpdated,
    gifting.GiftSent,
    gifting.ContentUnlocked,
    gifting.ItemListed,
    payout.DiamondsCredited,
    payout.DiamondsReleased,
    payout.PayoutRequested,
    payout.PayoutApproved,
    payout.PayoutSubmitted,
    payout.PayoutCompleted,
    payout.PayoutFailed,
    payout.PayoutMethodSet,
)
PAYLOADS: dict[tuple[str, int], type[Payload]] = {(m.event_type, m.version): m for m in MODELS}


def payload_model(event_type: str, version: int) -> type[Payload] | None:
    return PAYLOADS.get((event_type, version))
