"""Reconcile's invariants of ticketed live events (registered in scripts/reconcile.py).

- per live event: held = sold - refunded - settled (coins, from its events, against the tickets
  still held), never more tickets than its capacity, and a state its tickets agree with;
- each ticket bought is one `ticket` ledger entry and each refund one `ticket_refund` entry,
  of its fan and coins;
- the diamonds a started event owes its creator (floor(coins x the rate it recorded)), for the
  diamonds check of reconcile.py;
- the live_event_sales read model agrees with gifting.
"""

from decimal import Decimal

from scripts.reconcile_compare import disagreements, keyed
from services.payout.conversion import diamonds_for


async def _event_figures(db) -> dict:
    """{live event: (capacity, sold, refunded, settled)} in coins and tickets, from gifting's
    events."""
    rows = await db["gifting"].fetch(
        "SELECT event_type, envelope->'data' AS d FROM events WHERE event_type IN"
        " ('LiveEventScheduled', 'TicketPurchased', 'TicketRefunded', 'LiveEventStarted')"
    )
    figures: dict[str, dict[str, int]] = {}
    for r in rows:
        d = r["d"]
        f = figures.setdefault(
            d["live_event_id"],
            {"capacity": 0, "sold": 0, "tickets": 0, "refunded": 0, "settled": 0},
        )
        match r["event_type"]:
            case "LiveEventScheduled":
                f["capacity"] = d["capacity"]
            case "TicketPurchased":
                f["sold"] += d["coins"]
                f["tickets"] += 1
            case "TicketRefunded":
                f["refunded"] += d["coins"]
            case "LiveEventStarted":
                f["settled"] += d["coins"]
    return figures


async def tickets_held_match_their_events(db) -> tuple[int, list[str]]:
    figures = await _event_figures(db)
    rows = await db["gifting"].fetch(
        "SELECT e.live_event_id, e.state, e.capacity, e.sold,"
        " coalesce(sum(t.coins) FILTER (WHERE t.state = 'held'), 0)::bigint AS held,"
        " count(t.ticket_id) AS tickets,"
        " array_remove(array_agg(DISTINCT t.state), NULL) AS ticket_states"
        " FROM live_events e LEFT JOIN tickets t USING (live_event_id)"
        " GROUP BY e.live_event_id"
    )
    found = []
    allowed = {"scheduled": {"held"}, "started": {"settled"}, "cancelled": {"refunded"}}
    for r in rows:
        event = r["live_event_id"]
        f = figures.get(
            event, {"capacity": 0, "sold": 0, "tickets": 0, "refunded": 0, "settled": 0}
        )
        owed = f["sold"] - f["refunded"] - f["settled"]
        if r["held"] != owed:
            found.append(
                f"live event {event}: {r['held']} coins held != sold {f['sold']}"
                f" - refunded {f['refunded']} - settled {f['settled']}"
            )
        if not (r["tickets"] == r["sold"] == f["tickets"] <= r["capacity"] == f["capacity"]):
            found.append(
                f"live event {event}: {r['tickets']} tickets, sold {r['sold']},"
                f" {f['tickets']} TicketPurchased, capacity {r['capacity']}"
                f" (scheduled with {f['capacity']})"
            )
        if not set(r["ticket_states"]) <= allowed[r["state"]]:
            found.append(f"live event {event} is {r['state']} with tickets {r['ticket_states']}")
    missing = sorted(figures.keys() - {r["live_event_id"] for r in rows})
    found += [f"live event {e}: events but no row" for e in missing]
    return len(rows), found


async def ticket_moves_in_the_ledger(db) -> tuple[int, list[str]]:
    """Each TicketPurchased / TicketRefunded is the one ledger entry of its id, fan and coins."""
    events = {
        r["event_id"]: (r["kind"], r["fan"], r["delta"])
        for r in await db["gifting"].fetch(
            "SELECT event_id, CASE event_type WHEN 'TicketPurchased' THEN 'ticket'"
            " ELSE 'ticket_refund' END AS kind, envelope->'data'->>'fan_id' AS fan,"
            " (CASE event_type WHEN 'TicketPurchased' THEN -1 ELSE 1 END)"
            " * (envelope->'data'->>'coins')::bigint AS delta"
            " FROM events WHERE event_type IN ('TicketPurchased', 'TicketRefunded')"
        )
    }
    ledger = {
        r["event_id"]: (r["kind"], r["user_id"], r["delta"])
        for r in await db["gifting"].fetch(
            "SELECT event_id, kind, user_id, delta FROM wallet_ledger"
            " WHERE kind IN ('ticket', 'ticket_refund')"
        )
    }
    found = disagreements(
        "ticket event", "(kind, fan, delta)", "the event store", events, "the ledger", ledger
    )
    return len(events), found


async def ticket_diamonds_owed(db) -> dict[str, int]:
    """{creator: diamonds} every started live event earns its creator."""
    owed: dict[str, int] = {}
    for r in await db["gifting"].fetch(
        "SELECT envelope->'data' AS d FROM events WHERE event_type = 'LiveEventStarted'"
    ):
        d = r["d"]
        diamonds = diamonds_for(d["coins"], Decimal(d["diamonds_per_coin"]))
        owed[d["creator_id"]] = owed.get(d["creator_id"], 0) + diamonds
    return owed


async def live_events_read_model_matches(db) -> tuple[int, list[str]]:
    live = await keyed(
        db["gifting"],
        "SELECT e.live_event_id, count(t.ticket_id)::bigint,"
        " count(t.ticket_id) FILTER (WHERE t.state = 'refunded')::bigint,"
        " count(t.ticket_id) FILTER (WHERE t.state = 'settled')::bigint,"
        " e.state = 'started', e.state = 'cancelled'"
        " FROM live_events e LEFT JOIN tickets t USING (live_event_id)"
        " GROUP BY e.live_event_id, e.state",
    )
    projected = await keyed(
        db["projections"],
        "SELECT live_event_id, tickets_sold, tickets_refunded, tickets_settled,"
        " started_at IS NOT NULL, cancelled_at IS NOT NULL FROM live_event_sales",
    )
    figures = "(sold, refunded, settled, started, cancelled)"
    found = disagreements("live event", figures, "gifting", live, "live_event_sales", projected)
    return len(live), found


CHECKS = {
    "live events: held = sold - refunded - settled; capacity respected": (
        tickets_held_match_their_events
    ),
    "every ticket bought and refunded is its ledger entry": ticket_moves_in_the_ledger,
    "live_event_sales read model agrees with gifting": live_events_read_model_matches,
}
