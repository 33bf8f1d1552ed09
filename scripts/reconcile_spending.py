"""Reconcile's invariants of spending controls (registered in scripts/reconcile.py).

- each spend counts once in each period: a user's day, week and month window totals are
  equal, and never more than the coins their wallet ledger shows spent;
- each user's spending_controls row is what their last SpendingLimitsChanged says (version
  and every rule), so the events tell the controls' history truly.
"""

from services.gifting.limits_decide import PERIODS

# Ledger kinds that are not spends: credits, reversals and refunds (positive) and clawbacks.
NOT_SPENDS = ("purchase", "clawback")


async def windows_match_spends(db) -> tuple[int, list[str]]:
    rows = await db["gifting"].fetch(
        "SELECT w.user_id, w.period, sum(w.coins) AS coins FROM spend_windows w"
        " GROUP BY w.user_id, w.period"
    )
    totals: dict[str, dict[str, int]] = {}
    for r in rows:
        totals.setdefault(r["user_id"], {})[r["period"]] = r["coins"]
    spent = {
        r["user_id"]: r["coins"]
        for r in await db["gifting"].fetch(
            "SELECT user_id, -sum(delta) AS coins FROM wallet_ledger"
            " WHERE delta < 0 AND kind <> ALL($1::text[]) GROUP BY user_id",
            list(NOT_SPENDS),
        )
    }
    found = []
    for user, by_period in sorted(totals.items()):
        figures = {p: by_period.get(p, 0) for p in PERIODS}
        if len(set(figures.values())) > 1:
            found.append(f"spender {user}: window totals differ by period {figures}")
        if figures["day"] > spent.get(user, 0):
            found.append(
                f"spender {user}: {figures['day']} coins in spend windows, only"
                f" {spent.get(user, 0)} spent in the ledger"
            )
    return len(totals), found


_COLUMNS = {
    "daily": ("day_coins", "day_pending", "day_pending_from"),
    "weekly": ("week_coins", "week_pending", "week_pending_from"),
    "monthly": ("month_coins", "month_pending", "month_pending_from"),
}


async def controls_match_their_events(db) -> tuple[int, list[str]]:
    rows = await db["gifting"].fetch(
        "SELECT c.*, e.version AS event_version, e.envelope->'data' AS d"
        " FROM spending_controls c LEFT JOIN LATERAL (SELECT version, envelope FROM events"
        "   WHERE stream_id = 'spending-' || c.user_id ORDER BY version DESC LIMIT 1) e ON true"
        " WHERE c.version > 0"
    )
    found = []
    for r in rows:
        user, d = r["user_id"], r["d"]
        if r["event_version"] != r["version"] or d is None:
            found.append(
                f"spending controls of {user}: version {r['version']}, last event"
                f" {r['event_version']}"
            )
            continue
        for rule, (coins, pending, since) in _COLUMNS.items():
            said = d[rule]
            if (said["coins"], said["pending_coins"]) != (r[coins], r[pending]) or (
                said["pending_from"] is None
            ) != (r[since] is None):
                found.append(f"spending controls of {user}: {rule} differs from its event")
        excl = d["self_exclusion"]
        if (excl["until"] is None) != (r["excluded_until"] is None) or (
            excl["pending_from"] is None
        ) != (r["excluded_pending_from"] is None):
            found.append(f"spending controls of {user}: self-exclusion differs from its event")
    return len(rows), found


CHECKS = {
    "spend windows: one count per spend and period, within the ledger": windows_match_spends,
    "spending controls = their last SpendingLimitsChanged": controls_match_their_events,
}
