"""Reconcile's invariants of subscriptions (registered in scripts/reconcile.py;
docs/subscriptions.md):

- each charge event (SubscriptionStarted / Renewed / SubscriptionsGifted) is one
  `subscription` / `subscription_gift` ledger entry of its payer and coins, and pays periods
  (subscription_periods rows) whose coins sum to it: subscription debits = periods' coins;
- each subscription's periods are 1..period, each paid once;
- what the charges owe each creator, floor(floor(coins x creator_share) x diamonds_per_coin) at
  the rates each recorded (computed here in exact decimals, not by the contract's code under
  audit), for the diamonds check of reconcile.py, and payout's `subscription` credits per
  charge equal it;
- the subscriptions read model agrees with gifting (periods and coins paid per subscription).
"""

from decimal import ROUND_FLOOR, Decimal

from scripts.reconcile_compare import disagreements

CHARGES = ("SubscriptionStarted", "SubscriptionRenewed", "SubscriptionsGifted")
KINDS = {"SubscriptionsGifted": "subscription_gift"}  # the others: `subscription`


async def _charges(db) -> list:
    return await db["gifting"].fetch(
        "SELECT event_id, event_type, envelope->'data' AS d FROM events"
        " WHERE event_type = ANY($1::text[])",
        list(CHARGES),
    )


def creator_diamonds(d: dict) -> int:
    def floor(x: Decimal) -> int:
        return int(x.to_integral_value(rounding=ROUND_FLOOR))

    coins = floor(Decimal(d["coins"]) * Decimal(str(d["creator_share"])))
    return floor(coins * Decimal(str(d["diamonds_per_coin"])))


async def charges_are_their_ledger_entries_and_periods(db) -> tuple[int, list[str]]:
    charges = await _charges(db)
    events = {
        r["event_id"]: (
            KINDS.get(r["event_type"], "subscription"),
            r["d"]["payer_id"],
            r["d"]["coins"],
        )
        for r in charges
    }
    ledger = {
        r["event_id"]: (r["kind"], r["user_id"], -r["delta"])
        for r in await db["gifting"].fetch(
            "SELECT event_id, kind, user_id, delta FROM wallet_ledger"
            " WHERE kind IN ('subscription', 'subscription_gift')"
        )
    }
    periods = {
        r["event_id"]: (r["payer_id"], r["coins"])
        for r in await db["gifting"].fetch(
            "SELECT event_id, min(payer_id) AS payer_id, sum(coins)::bigint AS coins"
            " FROM subscription_periods GROUP BY event_id"
        )
    }
    paid = {e: (payer, coins) for e, (_, payer, coins) in events.items()}
    found = disagreements(
        "charge", "(kind, payer, coins)", "its event", events, "the ledger", ledger
    )
    found += disagreements("charge", "(payer, coins)", "its event", paid, "its periods", periods)
    return len(events), found


async def each_period_paid_once(db) -> tuple[int, list[str]]:
    rows = await db["gifting"].fetch(
        "SELECT s.subscription_id, s.period, count(p.period) AS paid,"
        " coalesce(max(p.period), 0) AS last, count(DISTINCT p.period) AS distinct_periods"
        " FROM subscriptions s LEFT JOIN subscription_periods p USING (subscription_id)"
        " GROUP BY s.subscription_id, s.period"
    )
    return len(rows), [
        f"subscription {r['subscription_id']}: period {r['period']} but periods paid"
        f" {r['paid']} (last {r['last']})"
        for r in rows
        if not (r["period"] == r["paid"] == r["last"] == r["distinct_periods"])
    ]


async def subscription_diamonds_owed(db) -> dict[str, int]:
    """{creator: diamonds} the subscription charges owe, for reconcile's diamonds check."""
    owed: dict[str, int] = {}
    for r in await _charges(db):
        creator = r["d"]["creator_id"]
        owed[creator] = owed.get(creator, 0) + creator_diamonds(r["d"])
    return owed


async def subscription_credits_match_their_charges(db) -> tuple[int, list[str]]:
    expected = {str(r["event_id"]): creator_diamonds(r["d"]) for r in await _charges(db)}
    expected = {e: d for e, d in expected.items() if d}  # a share of 0 coins credits nothing
    credited = {
        str(r["source_event_id"]): r["diamonds"]
        for r in await db["payout"].fetch(
            "SELECT source_event_id, sum(diamonds)::bigint AS diamonds FROM credits"
            " WHERE source = 'subscription' GROUP BY source_event_id"
        )
    }
    return len(expected), disagreements(
        "subscription charge", "diamonds", "share x rate", expected, "payout", credited
    )


async def read_model_matches(db) -> tuple[int, list[str]]:
    live = {
        str(r["subscription_id"]): (r["periods"], r["coins"])
        for r in await db["gifting"].fetch(
            "SELECT subscription_id, count(*) AS periods, sum(coins)::bigint AS coins"
            " FROM subscription_periods GROUP BY subscription_id"
        )
    }
    projected = {
        r["subscription_id"]: (r["periods_paid"], r["coins_paid"])
        for r in await db["projections"].fetch(
            "SELECT subscription_id, periods_paid, coins_paid FROM subscriptions"
        )
    }
    return len(live), disagreements(
        "subscription", "(periods, coins) paid", "gifting", live, "the read model", projected
    )


CHECKS = {
    "subscription debits = their ledger entries = the periods' coins": (
        charges_are_their_ledger_entries_and_periods
    ),
    "every subscription period paid once": each_period_paid_once,
    "subscription credits = each charge's creator share x rate": (
        subscription_credits_match_their_charges
    ),
    "subscriptions read model agrees with gifting": read_model_matches,
}
