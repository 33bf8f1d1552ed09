"""Read models. Each one is a pure function from a batch of fresh events to rows (see upsert.py),
written with one UNNEST upsert per table, so a batch costs a few statements whatever its size.

Days are UTC days of the event's own time; nothing here reads the clock.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

from schemas.envelope import Envelope
from schemas.events.base import Payload
from schemas.events.bonus import BonusCoinsExpired
from schemas.events.gifting import ContentUnlocked, GiftSentV2, ItemListed
from schemas.events.live_events import TicketPurchased, TicketRefunded
from schemas.events.partners import PartnerCoinsCredited, PartnerCoinsDebited
from schemas.events.payout import (
    DiamondsCredited,
    DiamondsReleased,
    PayoutApproved,
    PayoutCompleted,
    PayoutFailed,
    PayoutRequested,
    PayoutSubmitted,
)
from schemas.events.promotions import BonusCoinsGranted
from schemas.events.recharge import (
    CoinPurchased,
    CoinsClawedBack,
    PaymentRefundDue,
    PaymentRefunded,
    PurchaseCreated,
    PurchaseFailed,
)
from schemas.events.subscriptions import SubscriptionCharge
from services.projections import (
    battles,
    bonus_lots,
    fan_levels,
    goals,
    panels,
    partners,
    promotions,
    subscriptions,
    tickets,
)
from services.projections.upsert import KEEP, MAX, MIN, Column, Rows, Table


@dataclass
class Fact:
    envelope: Envelope
    payload: Payload


def C(name: str, type_: str = "bigint", merge: str = "sum") -> Column:
    return Column(name, type_, merge)


def day(t: datetime) -> date:
    return t.astimezone(UTC).date()


LAST = C("last_event_time", "timestamptz", MAX)

WALLET_BALANCES = Table(
    "wallet_balances",
    (C("user_id", "text"),),
    (C("purchased"), C("clawed_back"), C("gifted"), C("unlocked"), C("balance"), C("events"), LAST),
)
WALLET_STATEMENTS = Table(
    "wallet_statements",
    (C("user_id", "text"), C("event_id", "uuid")),
    (
        C("event_time", "timestamptz", KEEP),
        C("kind", "text", KEEP),
        C("coins", "bigint", KEEP),
        C("reference", "text", KEEP),
        C("counterparty", "text", KEEP),
        C("balance_after", "bigint", KEEP),
    ),
)
CREATOR_EARNINGS = Table(
    "creator_earnings",
    (C("creator_id", "text"),),
    (
        C("gifts_received"),
        C("coins_received"),
        C("diamonds_earned"),
        C("diamonds_held"),
        C("diamonds_pending"),
        C("diamonds_paid"),
        C("events"),
        LAST,
    ),
)
CREATOR_STREAMS = Table(
    "creator_stream_earnings",
    (C("creator_id", "text"), C("stream_id", "text")),
    (C("credits"), C("coins"), C("diamonds"), LAST),
)
CREATOR_DAYS = Table(
    "creator_daily_earnings",
    (C("creator_id", "text"), C("day", "date")),
    (C("credits"), C("coins"), C("diamonds_earned"), C("diamonds_paid"), LAST),
)
STREAM_GIFTERS = Table(
    "stream_gifters",
    (C("stream_id", "text"), C("sender_id", "text")),
    (C("creator_id", "text", MAX), C("gifts"), C("quantity"), C("coins"), LAST),
)
STREAM_COMBOS = Table(
    "stream_combos",
    (C("stream_id", "text"), C("combo_id", "text")),
    (
        C("sender_id", "text", MAX),
        C("creator_id", "text", MAX),
        C("gift_code", "text", MAX),
        C("gifts"),
        C("quantity"),
        C("coins"),
        C("max_combo_count", "integer", MAX),
        C("first_event_time", "timestamptz", MIN),
        LAST,
    ),
)
ITEM_UNLOCKS = Table(
    "item_unlocks",
    (C("item_id", "text"),),
    (
        C("owner_id", "text", MAX),
        C("title", "text", "latest:item_version"),
        C("listed_coins", "bigint", "latest:item_version"),
        C("item_version", "integer", MAX),
        C("unlocks"),
        C("coins"),
        LAST,
    ),
)
PURCHASES = Table(
    "purchases",
    (C("purchase_id", "text"),),
    (
        *(
            C(n, "text", MAX)
            for n in (
                "user_id",
                "bundle_id",
                "country",
                "channel",
                "currency",
                "settlement_currency",
                "provider",
                "decline_reason",
                "clawback_reason",
            )
        ),
        *(C(n, "bigint", MAX) for n in ("coins", "price_minor", "settlement_minor", "fee_minor")),
        C("fx_rate", "numeric", MAX),
        *(
            C(n, "timestamptz", MIN)
            for n in ("created_at", "confirmed_at", "declined_at", "clawed_back_at")
        ),
        C("clawed_back_coins"),
        C("clawed_back_settlement_minor"),
        *(C(n, "timestamptz", MIN) for n in ("refund_due_at", "refunded_at")),
        C("refund_minor", "bigint", MAX),
        C("refund_id", "text", MAX),
    ),
)
COMMISSION = Table(
    "platform_commission_daily",
    (C("day", "date"), C("source", "text")),
    (
        C("events"),
        C("coins"),
        C("commission_coins", "numeric"),
        LAST,
        C("bonus_coins"),
        C("bonus_diamonds"),
    ),
)
PAYOUTS = Table(
    "payouts",
    (C("payout_id", "text"),),
    (
        C("creator_id", "text", MAX),
        C("diamonds", "bigint", MAX),
        C("currency", "text", MAX),
        C("amount_minor", "bigint", MAX),
        C("usd_per_diamond", "numeric", MAX),
        C("fx_rate", "numeric", MAX),
        C("method", "text", MAX),
        C("requires_review", "boolean", MAX),
        *(
            C(n, "timestamptz", MIN)
            for n in ("requested_at", "approved_at", "submitted_at", "completed_at", "failed_at")
        ),
        C("paid_amount_minor", "bigint", MAX),
        C("failure_reason", "text", MAX),
    ),
)


# A folding matches on the payload's class, not on the envelope's type name, so the checker knows
# each case's fields. The registry maps each (type, version) to one class, so the two agree, and
# the decoder upcasts older versions (schemas.upcast): a GiftSent is always a GiftSentV2 here.
# A gift's creator, in the read models that name one (statement counterparty, leaderboards), is
# its host, the first recipient; the guests' earnings arrive as their own DiamondsCredited.


def fold_wallet_balances(facts: list[Fact]) -> list[Rows]:
    rows = WALLET_BALANCES.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case CoinPurchased():
                rows.add(
                    (p.user_id,), purchased=p.coins, balance=p.coins, events=1, last_event_time=t
                )
            case CoinsClawedBack():
                rows.add(
                    (p.user_id,), clawed_back=p.coins, balance=-p.coins, events=1, last_event_time=t
                )
            case GiftSentV2():
                rows.add(
                    (p.sender_id,), gifted=p.coins, balance=-p.coins, events=1, last_event_time=t
                )
            case ContentUnlocked():
                rows.add(
                    (p.user_id,), unlocked=p.coins, balance=-p.coins, events=1, last_event_time=t
                )
            case TicketPurchased():  # held until the event starts or is refunded
                rows.add((p.fan_id,), balance=-p.coins, events=1, last_event_time=t)
            case TicketRefunded():
                rows.add((p.fan_id,), balance=p.coins, events=1, last_event_time=t)
            case SubscriptionCharge():
                rows.add((p.payer_id,), balance=-p.coins, events=1, last_event_time=t)
            case PartnerCoinsDebited() | PartnerCoinsCredited():
                line = partners.wallet_line(p)
                if line:
                    rows.add((line[0],), balance=line[2], events=1, last_event_time=t)
            case BonusCoinsGranted():  # bonus lots (bonus_lots.py keeps them apart)
                rows.add((p.user_id,), balance=p.coins, events=1, last_event_time=t)
            case BonusCoinsExpired():
                rows.add((p.user_id,), balance=-p.coins, events=1, last_event_time=t)
    return [rows]


def fold_wallet_statements(facts: list[Fact]) -> list[Rows]:
    rows = WALLET_STATEMENTS.rows()
    for f in facts:
        p, e = f.payload, f.envelope
        line: tuple[str, str, int, str, str, int | None] | None = None
        match p:
            case CoinPurchased():
                line = (p.user_id, "purchase", p.coins, p.purchase_id, p.provider, None)
            case CoinsClawedBack():
                line = (p.user_id, "clawback", -p.coins, p.purchase_id, p.provider, None)
            case GiftSentV2():
                line = (p.sender_id, "gift", -p.coins, p.gift_id, p.host, p.balance_after)
            case ContentUnlocked():
                line = (p.user_id, "unlock", -p.coins, p.unlock_id, p.item_id, p.balance_after)
            case TicketPurchased():
                line = (p.fan_id, "ticket", -p.coins, p.ticket_id, p.live_event_id, p.balance_after)
            case TicketRefunded():
                line = (
                    p.fan_id,
                    "ticket_refund",
                    p.coins,
                    p.ticket_id,
                    p.live_event_id,
                    p.balance_after,
                )
            case SubscriptionCharge():
                line = subscriptions.charge_line(p)
            case PartnerCoinsDebited() | PartnerCoinsCredited():
                line = partners.wallet_line(p)
            case BonusCoinsGranted():
                line = (p.user_id, "bonus", p.coins, p.grant_id, p.campaign_id, None)
            case BonusCoinsExpired():
                line = (
                    p.user_id,
                    "bonus_expiry",
                    -p.coins,
                    p.lot_id,
                    p.campaign_id,
                    p.balance_after,
                )
        if line:
            user, kind, coins, reference, counterparty, after = line
            rows.add(
                (user, e.id),
                event_time=e.time,
                kind=kind,
                coins=coins,
                reference=reference,
                counterparty=counterparty,
                balance_after=after,
            )
    return [rows]


def fold_creator_earnings(facts: list[Fact]) -> list[Rows]:
    totals, streams, days = CREATOR_EARNINGS.rows(), CREATOR_STREAMS.rows(), CREATOR_DAYS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case DiamondsCredited():
                totals.add(
                    (p.creator_id,),
                    gifts_received=1,
                    coins_received=p.coins,
                    diamonds_earned=p.diamonds,
                    diamonds_held=p.held,
                    events=1,
                    last_event_time=t,
                )
                if p.stream_id:
                    streams.add(
                        (p.creator_id, p.stream_id),
                        credits=1,
                        coins=p.coins,
                        diamonds=p.diamonds,
                        last_event_time=t,
                    )
                days.add(
                    (p.creator_id, day(t)),
                    credits=1,
                    coins=p.coins,
                    diamonds_earned=p.diamonds,
                    last_event_time=t,
                )
            case DiamondsReleased():
                totals.add((p.creator_id,), diamonds_held=-p.diamonds, events=1, last_event_time=t)
            case PayoutRequested():
                totals.add(
                    (p.creator_id,), diamonds_pending=p.diamonds, events=1, last_event_time=t
                )
            case PayoutCompleted():
                totals.add(
                    (p.creator_id,),
                    diamonds_pending=-p.diamonds,
                    diamonds_paid=p.diamonds,
                    events=1,
                    last_event_time=t,
                )
                days.add((p.creator_id, day(t)), diamonds_paid=p.diamonds, last_event_time=t)
            case PayoutFailed():
                totals.add(
                    (p.creator_id,), diamonds_pending=-p.diamonds, events=1, last_event_time=t
                )
    return [totals, streams, days]


def fold_leaderboards(facts: list[Fact]) -> list[Rows]:
    gifters, combos = STREAM_GIFTERS.rows(), STREAM_COMBOS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        if not isinstance(p, GiftSentV2) or p.context.kind != "live":
            continue
        stream = p.context.id
        gifters.add(
            (stream, p.sender_id),
            creator_id=p.host,
            gifts=1,
            quantity=p.quantity,
            coins=p.coins,
            last_event_time=t,
        )
        if p.combo_id:
            combos.add(
                (stream, p.combo_id),
                sender_id=p.sender_id,
                creator_id=p.host,
                gift_code=p.gift_code,
                gifts=1,
                quantity=p.quantity,
                coins=p.coins,
                max_combo_count=p.combo_count,
                first_event_time=t,
                last_event_time=t,
            )
    return [gifters, combos]


def fold_unlocks(facts: list[Fact]) -> list[Rows]:
    rows = ITEM_UNLOCKS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case ItemListed():
                rows.add(
                    (p.item_id,),
                    owner_id=p.owner_id,
                    title=p.title,
                    listed_coins=p.coins,
                    item_version=p.item_version,
                    last_event_time=t,
                )
            case ContentUnlocked():
                rows.add(
                    (p.item_id,), owner_id=p.owner_id, unlocks=1, coins=p.coins, last_event_time=t
                )
    return [rows]


def _quoted(p: PurchaseCreated | CoinPurchased) -> dict[str, object]:
    """What a purchase's quote says, the same on PurchaseCreated and CoinPurchased."""
    return dict(
        user_id=p.user_id,
        bundle_id=p.bundle_id,
        coins=p.coins,
        country=p.country,
        channel=p.channel,
        currency=p.price.currency,
        price_minor=p.price.amount_minor,
        provider=p.provider,
    )


def fold_purchases(facts: list[Fact]) -> list[Rows]:
    rows = PURCHASES.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case PurchaseCreated():
                rows.add((p.purchase_id,), **_quoted(p), created_at=t)
            case CoinPurchased():
                rows.add(
                    (p.purchase_id,),
                    **_quoted(p),
                    settlement_currency=p.settlement.currency,
                    settlement_minor=p.settlement.amount_minor,
                    fee_minor=p.fee.amount_minor,
                    fx_rate=p.fx_rate,
                    confirmed_at=t,
                )
            case PurchaseFailed():
                rows.add(
                    (p.purchase_id,),
                    user_id=p.user_id,
                    bundle_id=p.bundle_id,
                    provider=p.provider,
                    decline_reason=p.reason,
                    declined_at=t,
                )
            case CoinsClawedBack():
                rows.add(
                    (p.purchase_id,),
                    user_id=p.user_id,
                    provider=p.provider,
                    clawback_reason=p.reason_code,
                    clawed_back_at=t,
                    clawed_back_coins=p.coins,
                    clawed_back_settlement_minor=p.settlement.amount_minor,
                )
            case PaymentRefundDue():
                rows.add(
                    (p.purchase_id,),
                    user_id=p.user_id,
                    provider=p.provider,
                    refund_due_at=t,
                    refund_minor=p.amount.amount_minor,
                )
            case PaymentRefunded():
                rows.add(
                    (p.purchase_id,),
                    user_id=p.user_id,
                    provider=p.provider,
                    refunded_at=t,
                    refund_minor=p.amount.amount_minor,
                    refund_id=p.refund_id,
                )
    return [rows]


def fold_commission(facts: list[Fact]) -> list[Rows]:
    rows = COMMISSION.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case GiftSentV2():
                source = "gift"
            case ContentUnlocked():
                source = "unlock"
            case _:
                continue
        rows.add(
            (day(t), source),
            events=1,
            coins=p.coins,
            commission_coins=p.coins * p.commission_rate,
            last_event_time=t,
            bonus_coins=p.bonus_coins,  # marketing's coins among them, and what they earned
            bonus_diamonds=sum(e[2] for e in bonus_lots.bonus_earnings(p)),
        )
    return [rows]


def fold_payouts(facts: list[Fact]) -> list[Rows]:
    rows = PAYOUTS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case PayoutRequested():
                rows.add(
                    (p.payout_id,),
                    creator_id=p.creator_id,
                    diamonds=p.diamonds,
                    currency=p.amount.currency,
                    amount_minor=p.amount.amount_minor,
                    usd_per_diamond=p.usd_per_diamond,
                    fx_rate=p.fx_rate,
                    method=p.method,
                    requires_review=p.requires_review,
                    requested_at=t,
                )
            case PayoutApproved():
                rows.add((p.payout_id,), creator_id=p.creator_id, approved_at=t)
            case PayoutSubmitted():
                rows.add((p.payout_id,), creator_id=p.creator_id, submitted_at=t)
            case PayoutCompleted():
                rows.add(
                    (p.payout_id,),
                    creator_id=p.creator_id,
                    diamonds=p.diamonds,
                    completed_at=t,
                    paid_amount_minor=p.amount.amount_minor,
                )
            case PayoutFailed():
                rows.add(
                    (p.payout_id,),
                    creator_id=p.creator_id,
                    diamonds=p.diamonds,
                    failed_at=t,
                    failure_reason=p.reason,
                )
    return [rows]


@dataclass(frozen=True)
class ReadModel:
    name: str
    tables: tuple[Table, ...]
    fold: Callable[[list[Fact]], list[Rows]]

    async def project(self, conn: asyncpg.Connection, facts: list[Fact]) -> None:
        for rows in self.fold(facts):
            await rows.write(conn)


READ_MODELS: dict[str, ReadModel] = {
    m.name: m
    for m in (
        ReadModel("wallet_balances", (WALLET_BALANCES,), fold_wallet_balances),
        ReadModel("wallet_statements", (WALLET_STATEMENTS,), fold_wallet_statements),
        ReadModel(
            "creator_earnings",
            (CREATOR_EARNINGS, CREATOR_STREAMS, CREATOR_DAYS),
            fold_creator_earnings,
        ),
        ReadModel("leaderboards", (STREAM_GIFTERS, STREAM_COMBOS), fold_leaderboards),
        ReadModel("unlocks", (ITEM_UNLOCKS,), fold_unlocks),
        ReadModel("purchases", (PURCHASES,), fold_purchases),
        ReadModel("commission", (COMMISSION,), fold_commission),
        ReadModel("payouts", (PAYOUTS,), fold_payouts),
        ReadModel("battles", battles.BATTLE_TABLES, battles.fold_battles),
        ReadModel("stream_recipients", battles.RECIPIENT_TABLES, battles.fold_stream_recipients),
        ReadModel("live_goals", goals.TABLES, goals.fold_goals),
        ReadModel("reserves", (panels.RESERVE_LOTS, panels.RESERVES), panels.fold_reserves),
        ReadModel("gift_minutes", (panels.GIFT_MINUTES,), panels.fold_gift_minutes),
        ReadModel("live_events", tickets.TABLES, tickets.fold_live_events),
        ReadModel("fan_levels", fan_levels.TABLES, fan_levels.fold_fan_days),
        ReadModel("subscriptions", subscriptions.TABLES, subscriptions.fold_subscriptions),
        ReadModel("partners", partners.TABLES, partners.fold_partners),
        ReadModel("bonus_lots", bonus_lots.TABLES, bonus_lots.fold_bonus_lots),
        ReadModel("promotions", promotions.TABLES, promotions.fold_promotions),
    )
}
