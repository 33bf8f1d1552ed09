"""Reconcile's invariants of partner platforms (registered in scripts/reconcile.py;
docs/partners.md):

- each PartnerCoinsDebited / PartnerCoinsCredited is one `partner_debit` / `partner_credit`
  ledger entry of its user and coins and one partner_operations row, and neither exists
  without its event;
- what the debits owe each partner, floor(floor(coins x revenue_share_bp / 10,000) x
  diamonds_per_coin) at the share and rate each recorded (computed here in exact decimals, not
  by the contract's code under audit), for the diamonds check of reconcile.py, and payout's
  `partner` credits per debit equal it;
- each consent's coins used = its debits' coins, never past its max_coins; a consent is revoked
  in gifting exactly when a PartnerConsentRevoked says so, and was granted by its event;
- each partner's day totals sum to its operations' coins (the daily limit counted each once);
- the partner read models agree with gifting (operations and coins per partner, consents).
"""

from decimal import ROUND_FLOOR, Decimal

from scripts.reconcile_compare import disagreements

OPERATIONS = {
    "PartnerCoinsDebited": ("partner_debit", -1),
    "PartnerCoinsCredited": ("partner_credit", 1),
}


def partner_diamonds(d: dict) -> int:
    def floor(x: Decimal) -> int:
        return int(x.to_integral_value(rounding=ROUND_FLOOR))

    coins = floor(Decimal(d["coins"]) * Decimal(d["revenue_share_bp"]) / Decimal(10_000))
    return floor(coins * Decimal(str(d["diamonds_per_coin"])))


async def _events(db, *types: str) -> list:
    return await db["gifting"].fetch(
        "SELECT event_id, event_type, envelope->'data' AS d FROM events"
        " WHERE event_type = ANY($1::text[])",
        list(types),
    )


async def operations_are_their_ledger_entries(db) -> tuple[int, list[str]]:
    events = {
        r["event_id"]: (OPERATIONS[r["event_type"]][0], r["d"]["user_id"], r["d"]["coins"])
        for r in await _events(db, *OPERATIONS)
    }
    sign = {kind: s for kind, s in OPERATIONS.values()}
    ledger = {
        r["event_id"]: (r["kind"], r["user_id"], r["delta"] * sign[r["kind"]])
        for r in await db["gifting"].fetch(
            "SELECT event_id, kind, user_id, delta FROM wallet_ledger"
            " WHERE kind IN ('partner_debit', 'partner_credit')"
        )
    }
    ops = {
        r["event_id"]: (f"partner_{r['kind']}", r["user_id"], r["coins"])
        for r in await db["gifting"].fetch(
            "SELECT event_id, kind, user_id, coins FROM partner_operations"
        )
    }
    found = disagreements(
        "operation", "(kind, user, coins)", "its event", events, "the ledger", ledger
    )
    found += disagreements(
        "operation", "(kind, user, coins)", "its event", events, "partner_operations", ops
    )
    return len(events), found


async def partner_diamonds_owed(db) -> dict[str, int]:
    """Diamonds each partner's debits owe it, by the shares and rates they recorded."""
    owed: dict[str, int] = {}
    for r in await _events(db, "PartnerCoinsDebited"):
        d = r["d"]
        owed[d["partner_id"]] = owed.get(d["partner_id"], 0) + partner_diamonds(d)
    return owed


async def partner_credits_match_their_debits(db) -> tuple[int, list[str]]:
    owed = {
        r["d"]["operation_id"]: (r["d"]["partner_id"], partner_diamonds(r["d"]))
        for r in await _events(db, "PartnerCoinsDebited")
    }
    owed = {k: v for k, v in owed.items() if v[1] > 0}  # a share that rounds to 0 credits none
    credited = {
        r["source_id"]: (r["creator_id"], r["diamonds"])
        for r in await db["payout"].fetch(
            "SELECT source_id, creator_id, diamonds FROM credits WHERE source = 'partner'"
        )
    }
    return len(owed), disagreements(
        "debit", "(partner, diamonds)", "its share", owed, "payout's credits", credited
    )


async def consents_match_their_debits_and_events(db) -> tuple[int, list[str]]:
    rows = await db["gifting"].fetch(
        "SELECT c.consent_id::text AS id, c.coins_used, c.max_coins, c.revoked_at IS NOT NULL"
        " AS revoked, coalesce(sum(o.coins) FILTER (WHERE o.kind = 'debit'), 0)::bigint AS debited"
        " FROM partner_consents c LEFT JOIN partner_operations o USING (consent_id)"
        " GROUP BY c.consent_id"
    )
    granted = {r["d"]["consent_id"] for r in await _events(db, "PartnerConsentGranted")}
    revoked = {r["d"]["consent_id"] for r in await _events(db, "PartnerConsentRevoked")}
    found = []
    for r in rows:
        if r["coins_used"] != r["debited"]:
            found.append(
                f"consent {r['id']}: coins used {r['coins_used']} != debits {r['debited']}"
            )
        if r["max_coins"] is not None and r["coins_used"] > r["max_coins"]:
            found.append(f"consent {r['id']}: {r['coins_used']} used past {r['max_coins']}")
        if r["id"] not in granted:
            found.append(f"consent {r['id']}: no PartnerConsentGranted")
        if r["revoked"] != (r["id"] in revoked):
            found.append(f"consent {r['id']}: revoked {r['revoked']}, its events disagree")
    return len(rows), found


async def partner_days_count_each_operation_once(db) -> tuple[int, list[str]]:
    days = {
        r["partner_id"]: r["coins"]
        for r in await db["gifting"].fetch(
            "SELECT partner_id, sum(coins)::bigint AS coins FROM partner_days GROUP BY 1"
        )
    }
    ops = {
        r["partner_id"]: r["coins"]
        for r in await db["gifting"].fetch(
            "SELECT partner_id, sum(coins)::bigint AS coins FROM partner_operations GROUP BY 1"
        )
    }
    return len(ops), disagreements(
        "partner", "coins moved", "its days", days, "its operations", ops
    )


async def read_models_match(db) -> tuple[int, list[str]]:
    live = {
        (r["partner_id"], r["kind"]): (r["n"], r["coins"])
        for r in await db["gifting"].fetch(
            "SELECT partner_id, kind, count(*) AS n, sum(coins)::bigint AS coins"
            " FROM partner_operations GROUP BY 1, 2"
        )
    }
    projected: dict = {}
    for r in await db["projections"].fetch(
        "SELECT partner_id, sum(debits)::bigint AS d, sum(debit_coins)::bigint AS dc,"
        " sum(credits)::bigint AS c, sum(credit_coins)::bigint AS cc FROM partner_daily GROUP BY 1"
    ):
        if r["d"]:
            projected[(r["partner_id"], "debit")] = (r["d"], r["dc"])
        if r["c"]:
            projected[(r["partner_id"], "credit")] = (r["c"], r["cc"])
    found = disagreements(
        "partner", "(operations, coins)", "gifting", live, "partner_daily", projected
    )
    consents = {
        str(r["consent_id"]): r["revoked"]
        for r in await db["gifting"].fetch(
            "SELECT consent_id, revoked_at IS NOT NULL AS revoked FROM partner_consents"
        )
    }
    seen = {
        r["consent_id"]: r["revoked"]
        for r in await db["projections"].fetch(
            "SELECT consent_id, revoked_at IS NOT NULL AS revoked FROM partner_consents"
        )
    }
    found += disagreements("consent", "revoked", "gifting", consents, "the read model", seen)
    return len(live) + len(consents), found


CHECKS = {
    "partner operations = their ledger entries = partner_operations": (
        operations_are_their_ledger_entries
    ),
    "partner credits = each debit's revenue share x rate": partner_credits_match_their_debits,
    "consents: coins used = their debits, within max_coins, events agree": (
        consents_match_their_debits_and_events
    ),
    "partner day totals = their operations' coins": partner_days_count_each_operation_once,
    "partner read models agree with gifting": read_models_match,
}
