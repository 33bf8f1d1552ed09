"""Every (type, version) a consumer may meet, the model that validates it, and the topic that
carries it: one table, by topic."""

from schemas import topics
from schemas.events import (
    accounts,
    bonus,
    gifting,
    live_events,
    payout,
    recharge,
    rooms,
    sanctions,
)
from schemas.events import partners as partner
from schemas.events import promotions as promos
from schemas.events import spending as controls
from schemas.events import subscriptions as subs
from schemas.events.base import Payload

BY_TOPIC: dict[str, tuple[type[Payload], ...]] = {
    topics.RECHARGE_EVENTS: (
        recharge.PurchaseCreated,
        recharge.CoinPurchased,
        recharge.PurchaseFailed,
        recharge.CoinsClawedBack,
        recharge.PaymentRefundDue,
        recharge.PaymentRefunded,
        promos.CampaignCreated,
        promos.PromoCodesIssued,
        promos.PromoRedeemed,
        promos.BonusCoinsGranted,
    ),
    topics.SANCTIONS_EVENTS: (sanctions.TransactionBanPlaced, sanctions.TransactionBanLifted),
    topics.MODERATION_COMMANDS: (sanctions.PlaceTransactionBan, sanctions.LiftTransactionBan),
    topics.ACCOUNTS_EVENTS: (accounts.AccountProfileUpdated,),
    topics.GIFTING_EVENTS: (
        gifting.GiftSent,
        gifting.GiftSentV2,
        gifting.ContentUnlocked,
        gifting.ItemListed,
        subs.SubscriptionPriceSet,
        subs.SubscriptionStarted,
        subs.SubscriptionRenewed,
        subs.SubscriptionsGifted,
        subs.SubscriptionRenewalFailed,
        subs.SubscriptionCancelled,
        subs.SubscriptionLapsed,
        rooms.RoomSharesSet,
        rooms.GoalSet,
        rooms.GoalProgressed,
        rooms.GoalReached,
        rooms.BattleStarted,
        rooms.BattleScored,
        rooms.BattleEnded,
        live_events.LiveEventScheduled,
        live_events.TicketPurchased,
        live_events.TicketRefunded,
        live_events.LiveEventCancelled,
        live_events.LiveEventStarted,
        controls.SpendingLimitsChanged,
        bonus.BonusCoinsExpired,
        partner.PartnerClientIssued,
        partner.PartnerSecretRotated,
        partner.PartnerConsentGranted,
        partner.PartnerConsentRevoked,
        partner.PartnerCoinsDebited,
        partner.PartnerCoinsCredited,
    ),
    topics.PAYOUT_EVENTS: (
        payout.DiamondsCredited,
        payout.DiamondsReleased,
        payout.PayoutRequested,
        payout.PayoutApproved,
        payout.PayoutSubmitted,
        payout.PayoutCompleted,
        payout.PayoutFailed,
        payout.PayoutMethodSet,
    ),
}
MODELS: tuple[type[Payload], ...] = tuple(m for models in BY_TOPIC.values() for m in models)
PAYLOADS: dict[tuple[str, int], type[Payload]] = {(m.event_type, m.version): m for m in MODELS}
# Which topic carries each type (every version of it): the AsyncAPI document's channels.
CARRIED_ON: dict[str, str] = {m.event_type: t for t, models in BY_TOPIC.items() for m in models}


def payload_model(event_type: str, version: int) -> type[Payload] | None:
    return PAYLOADS.get((event_type, version))
