"""Read models of subscriptions, folded from the gifting topic's subscription events with
order-independent merges (sums, first/last times, the tier of the most months), so a rebuild
equals live:

- `subscriptions`: one row per subscription: who, periods and coins paid, the last period's
  end, cancel / lapse times and reason, failed renewals;
- `subscriber_entitlements`: one row per (creator, fan): months paid in all their
  subscriptions and the badge tier those give (what other services read for badges).

Wallet movements of the charges are folded by the wallet read models (read_models.py) through
`charge_line`, so statements and balances include them."""

from typing import TYPE_CHECKING

from schemas.events.subscriptions import (
    Entitlement,
    SubscriptionCancelled,
    SubscriptionCharge,
    SubscriptionLapsed,
    SubscriptionRenewalFailed,
    SubscriptionRenewed,
    SubscriptionsGifted,
    SubscriptionStarted,
)
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

LAST = Column("last_event_time", "timestamptz", MAX)
SUBSCRIPTIONS = Table(
    "subscriptions",
    (Column("subscription_id", "text"),),
    (
        Column("fan_id", "text", MAX),
        Column("creator_id", "text", MAX),
        Column("payer_id", "text", MAX),  # who paid the first period (the gifter of a gift)
        Column("gift_id", "text", MAX),
        Column("periods_paid", "bigint"),
        Column("coins_paid", "bigint"),
        Column("period_end", "timestamptz", MAX),  # the end of the last period paid
        Column("started_at", "timestamptz", MIN),
        Column("cancelled_at", "timestamptz", MIN),
        Column("lapsed_at", "timestamptz", MIN),
        Column("lapse_reason", "text", MAX),
        Column("renewals_failed", "bigint"),
        Column("grace_until", "timestamptz", MAX),
        LAST,
    ),
)
ENTITLEMENTS = Table(
    "subscriber_entitlements",
    (Column("creator_id", "text"), Column("fan_id", "text")),
    (
        Column("months", "integer", MAX),
        Column("tier", "text", "latest:months"),
        Column("coins_paid", "bigint"),
        LAST,
    ),
)
TABLES = (SUBSCRIPTIONS, ENTITLEMENTS)


def charge_line(p: SubscriptionCharge) -> tuple[str, str, int, str, str, int]:
    """The wallet statement line of a charge: (user, kind, coins, reference, counterparty,
    balance after)."""
    kind = "subscription_gift" if isinstance(p, SubscriptionsGifted) else "subscription"
    reference = p.gift_id if isinstance(p, SubscriptionsGifted) else _subscription_id(p)
    return p.payer_id, kind, -p.coins, reference, p.creator_id, p.balance_after


def _subscription_id(p: SubscriptionCharge) -> str:
    return getattr(p, "subscription_id", "")


def fold_subscriptions(facts: "list[Fact]") -> list[Rows]:
    subs, ents = SUBSCRIPTIONS.rows(), ENTITLEMENTS.rows()

    def entitle(creator: str, fan: str, e: Entitlement, coins: int, t) -> None:
        ents.add((creator, fan), months=e.months, tier=e.tier, coins_paid=coins, last_event_time=t)

    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case SubscriptionStarted():
                subs.add(
                    (p.subscription_id,),
                    fan_id=p.fan_id,
                    creator_id=p.creator_id,
                    payer_id=p.payer_id,
                    periods_paid=1,
                    coins_paid=p.coins,
                    period_end=p.period_end,
                    started_at=t,
                    last_event_time=t,
                )
                entitle(p.creator_id, p.fan_id, p.entitlement, p.coins, t)
            case SubscriptionRenewed():
                subs.add(
                    (p.subscription_id,),
                    fan_id=p.fan_id,
                    creator_id=p.creator_id,
                    periods_paid=1,
                    coins_paid=p.coins,
                    period_end=p.period_end,
                    last_event_time=t,
                )
                entitle(p.creator_id, p.fan_id, p.entitlement, p.coins, t)
            case SubscriptionsGifted():
                for r in p.recipients:
                    subs.add(
                        (r.subscription_id,),
                        fan_id=r.fan_id,
                        creator_id=p.creator_id,
                        payer_id=p.payer_id,
                        gift_id=p.gift_id,
                        periods_paid=1,
                        coins_paid=p.unit_coins,
                        period_end=p.period_end,
                        started_at=t,
                        last_event_time=t,
                    )
                    entitle(p.creator_id, r.fan_id, r.entitlement, p.unit_coins, t)
            case SubscriptionRenewalFailed():
                subs.add(
                    (p.subscription_id,),
                    fan_id=p.fan_id,
                    creator_id=p.creator_id,
                    renewals_failed=1,
                    grace_until=p.grace_until,
                    last_event_time=t,
                )
            case SubscriptionCancelled():
                subs.add(
                    (p.subscription_id,),
                    fan_id=p.fan_id,
                    creator_id=p.creator_id,
                    cancelled_at=t,
                    last_event_time=t,
                )
            case SubscriptionLapsed():
                subs.add(
                    (p.subscription_id,),
                    fan_id=p.fan_id,
                    creator_id=p.creator_id,
                    lapsed_at=t,
                    lapse_reason=p.reason,
                    last_event_time=t,
                )
                entitle(p.creator_id, p.fan_id, p.entitlement, 0, t)
    return [subs, ents]
