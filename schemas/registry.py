"""Every (type, version) a consumer may meet, and the model that validates it."""

from schemas import topics
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
    gifting.GiftSentV2,
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


# Which topic carries each type (every version of it): the AsyncAPI document's channels.
CARRIED_ON: dict[str, str] = {
    **{
        m.event_type: topics.RECHARGE_EVENTS
        for m in (
            recharge.PurchaseCreated,
            recharge.CoinPurchased,
            recharge.PurchaseFailed,
            recharge.CoinsClawedBack,
            recharge.PaymentRefundDue,
            recharge.PaymentRefunded,
        )
    },
    sanctions.TransactionBanPlaced.event_type: topics.SANCTIONS_EVENTS,
    sanctions.TransactionBanLifted.event_type: topics.SANCTIONS_EVENTS,
    sanctions.PlaceTransactionBan.event_type: topics.MODERATION_COMMANDS,
    sanctions.LiftTransactionBan.event_type: topics.MODERATION_COMMANDS,
    accounts.AccountProfileUpdated.event_type: topics.ACCOUNTS_EVENTS,
    **{
        m.event_type: topics.GIFTING_EVENTS
        for m in (gifting.GiftSent, gifting.ContentUnlocked, gifting.ItemListed)
    },
    **{
        m.event_type: topics.PAYOUT_EVENTS
        for m in (
            payout.DiamondsCredited,
            payout.DiamondsReleased,
            payout.PayoutRequested,
            payout.PayoutApproved,
            payout.PayoutSubmitted,
            payout.PayoutCompleted,
            payout.PayoutFailed,
            payout.PayoutMethodSet,
        )
    },
}
