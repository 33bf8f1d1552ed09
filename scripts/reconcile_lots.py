"""Reconcile's invariants of bonus lots (docs/bonus-lots.md; registered in scripts/reconcile.py):

- each BonusCoinsGranted (recharge) is one lot in gifting, for its user and coins, credited once
  (one ledger entry of kind bonus with the grant's event id);
- each lot's remaining = granted - what spends drew from it (their events' bonus_lots) - what
  expired (its BonusCoinsExpired, one bonus_expiry ledger entry), never below zero, expired only
  once its expires_at has passed;
- each wallet's balance = its purchased part (its ledger without the bonus movements, less the
  bonus coins its spends drew) + its lots' remaining, and its `bonus` = that sum;
- the projections' bonus_lots equal gifting's lots, figure by figure.
"""

from scripts.reconcile_compare import disagreements, keyed

# Spends that may draw on lots carry bonus_lots on their event (gifting.BonusPart).
SPENDS = ("GiftSent", "ContentUnlocked")

_DRAWS = """
SELECT coalesce(e.envelope->'data'->>'sender_id', e.envelope->'data'->>'user_id') AS user_id,
       d->>'lot_id' AS lot_id, sum((d->>'coins')::bigint)::bigint AS coins
FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.envelope->'data'->'bonus_lots') AS d
WHERE e.event_type = ANY($1::text[]) AND e.envelope->'data' ? 'bonus_lots'
GROUP BY 1, 2
"""
_EXPIRIES = """
SELECT e.envelope->'data'->>'lot_id' AS lot_id, e.event_id,
       (e.envelope->'data'->>'coins')::bigint AS coins, l.delta
FROM events e LEFT JOIN wallet_ledger l ON l.event_id = e.event_id AND l.kind = 'bonus_expiry'
WHERE e.event_type = 'BonusCoinsExpired'
"""


async def grants_made_lots_once(db) -> tuple[int, list[str]]:
    """A lost grant takes a fan's promised coins; a second one creates coins."""
    grants = {
        r["grant_id"]: (r["event_id"], r["user_id"], r["coins"])
        for r in await db["recharge"].fetch(
            "SELECT event_id, envelope->'data'->>'grant_id' AS grant_id,"
            " envelope->'data'->>'user_id' AS user_id,"
            " (envelope->'data'->>'coins')::bigint AS coins"
            " FROM events WHERE event_type = 'BonusCoinsGranted'"
        )
    }
    lots = {
        r["lot_id"]: (r["event_id"], r["user_id"], r["granted"])
        for r in await db["gifting"].fetch(
            "SELECT lot_id, event_id, user_id, granted FROM wallet_lots"
        )
    }
    credited = {
        r["event_id"]: (r["user_id"], r["delta"], r["n"])
        for r in await db["gifting"].fetch(
            "SELECT event_id, min(user_id) AS user_id, sum(delta)::bigint AS delta,"
            " count(*) AS n FROM wallet_ledger WHERE kind = 'bonus' GROUP BY event_id"
        )
    }
    found = []
    for grant_id in sorted(grants.keys() | lots.keys()):
        g, lot = grants.get(grant_id), lots.get(grant_id)
        if g is None or lot is None:
            found.append(f"lot {grant_id}: recharge granted {g}, gifting's lot is {lot}")
            continue
        if g != lot:
            found.append(f"lot {grant_id}: granted (event, user, coins) {g}, gifting has {lot}")
        entry = credited.pop(lot[0], None)
        if entry != (g[1], g[2], 1):
            found.append(f"lot {grant_id}: credited {entry}, not once ({g[1]}, {g[2]})")
    found += [f"bonus ledger entry for event {e} has no lot: {v}" for e, v in credited.items()]
    return len(grants), found


async def lots_add_up(db) -> tuple[int, list[str]]:
    gifting = db["gifting"]
    draws: dict[str, int] = {}
    drawn_by: dict[str, int] = {}
    for r in await gifting.fetch(_DRAWS, list(SPENDS)):
        draws[r["lot_id"]] = draws.get(r["lot_id"], 0) + r["coins"]
        drawn_by[r["user_id"]] = drawn_by.get(r["user_id"], 0) + r["coins"]
    expiries: dict[str, int] = {}
    found = []
    for r in await gifting.fetch(_EXPIRIES):
        expiries[r["lot_id"]] = expiries.get(r["lot_id"], 0) + r["coins"]
        if r["delta"] != -r["coins"]:
            found.append(
                f"expiry {r['event_id']} of lot {r['lot_id']}: {r['coins']} coins, its"
                f" bonus_expiry ledger entry says {r['delta']}"
            )
    lots = await gifting.fetch(
        "SELECT lot_id, user_id, granted, remaining, expired, expires_at, expired_at"
        " FROM wallet_lots ORDER BY lot_id"
    )
    remaining: dict[str, int] = {}
    for lot in lots:
        lot_id = lot["lot_id"]
        remaining[lot["user_id"]] = remaining.get(lot["user_id"], 0) + lot["remaining"]
        want = lot["granted"] - draws.pop(lot_id, 0) - expiries.get(lot_id, 0)
        if lot["remaining"] != want or lot["remaining"] < 0:
            found.append(
                f"lot {lot_id}: {lot['remaining']} coins remaining, granted - spent - expired"
                f" = {want}"
            )
        if lot["expired"] != expiries.pop(lot_id, 0):
            found.append(f"lot {lot_id}: {lot['expired']} expired, its expiry events say otherwise")
        if lot["expired"] and not (lot["expires_at"] and lot["expired_at"] >= lot["expires_at"]):
            found.append(
                f"lot {lot_id}: expired at {lot['expired_at']}, before {lot['expires_at']}"
            )
    found += [
        f"spends drew {c} coins from lot {lot}, which gifting lacks" for lot, c in draws.items()
    ]
    found += [
        f"expiry of lot {lot} ({c} coins), which gifting lacks" for lot, c in expiries.items()
    ]
    wallets = await gifting.fetch(
        "SELECT w.user_id, w.balance, w.bonus, coalesce(sum(l.delta)"
        " FILTER (WHERE l.kind NOT IN ('bonus', 'bonus_expiry')), 0)::bigint AS moved"
        " FROM wallets w LEFT JOIN wallet_ledger l USING (user_id) GROUP BY 1, 2, 3"
    )
    for w in wallets:
        user = w["user_id"]
        purchased = w["moved"] + drawn_by.get(user, 0)  # spends' ledger rows hold bonus coins too
        lots_left = remaining.get(user, 0)
        if w["bonus"] != lots_left:
            found.append(f"wallet {user}: bonus {w['bonus']}, its lots hold {lots_left}")
        if w["balance"] != purchased + lots_left:
            found.append(
                f"wallet {user}: balance {w['balance']} != purchased part {purchased}"
                f" + lots {lots_left}"
            )
    return len(lots) + len(wallets), found


async def projected_lots_match(db) -> tuple[int, list[str]]:
    live = await keyed(
        db["gifting"],
        "SELECT lot_id, user_id, granted, granted - remaining - expired, expired, remaining"
        " FROM wallet_lots",
    )
    seen = await keyed(
        db["projections"],
        "SELECT lot_id, user_id, granted, spent, expired, outstanding FROM bonus_lots",
    )
    figures = "(user, granted, spent, expired, remaining)"
    found = disagreements("lot", figures, "gifting", live, "bonus_lots", seen)
    return len(live), found


CHECKS = {
    "each bonus grant is one lot, credited once": grants_made_lots_once,
    "each lot's remaining = granted - spent - expired; balance = purchased + lots": lots_add_up,
    "projections' bonus_lots = gifting's lots": projected_lots_match,
}
