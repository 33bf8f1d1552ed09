"""Reconcile's live event invariants over real stores: clean after sales, a cancel and a start
(with the read model fed the published events), and each one names a corrupted figure."""

from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import decode
from scripts import reconcile_tickets
from services.gifting.api import create
from services.projections.api import create as create_projections
from services.projections.read_models import READ_MODELS, Fact
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet

LIVE_EVENT_TYPES = [
    "LiveEventScheduled",
    "TicketPurchased",
    "TicketRefunded",
    "LiveEventCancelled",
    "LiveEventStarted",
]


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def story(client, settings, pools) -> list[str]:
    creator = new_id("star")
    events = []
    for _ in range(3):
        r = await client.post(
            "/v1/live-events",
            json={
                "title": "t",
                "coins": 25,
                "capacity": 2,
                "starts_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            },
            headers=auth(settings, creator, roles=["creator"]),
        )
        events.append(r.json()["live_event_id"])
    for event in events:
        for _ in range(3):  # the third is sold out
            fan = new_id("fan")
            await fund_wallet(pools["gifting"], fan, 30)
            await client.post(
                f"/v1/live-events/{event}/tickets", json={"coins": 25}, headers=auth(settings, fan)
            )
    creator_auth = auth(settings, creator, roles=["creator"])
    await client.post(f"/v1/live-events/{events[0]}/cancel", headers=creator_auth)
    await client.post(
        f"/v1/live-events/{events[1]}/start", headers=auth(settings, creator, roles=["creator"])
    )
    return events


async def test_clean_stores_pass_and_each_corruption_is_named(client, prepared, pools):
    events = await story(client, prepared, pools)
    values = await pools["gifting"].fetch(
        "SELECT o.value FROM outbox o JOIN events e USING (event_id)"
        " WHERE e.event_type = ANY($1::text[])",
        LIVE_EVENT_TYPES,
    )
    facts = [Fact(*decode(v["value"])) for v in values]
    async with pools["projections"].acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM live_event_sales")
        await READ_MODELS["live_events"].project(conn, facts)
    async with api_client(create_projections, prepared) as read:
        sold = await read.get(f"/v1/live-events/{events[2]}/sales", headers=auth(prepared, "x"))
        cancelled = await read.get(
            f"/v1/live-events/{events[0]}/sales", headers=auth(prepared, "x")
        )
    assert sold.status_code == 200, sold.text
    assert (sold.json()["tickets_sold"], sold.json()["coins_held"]) == (2, 50)
    assert (cancelled.json()["tickets_refunded"], cancelled.json()["coins_held"]) == (2, 0)
    async with (
        pools["gifting"].acquire() as g,
        pools["projections"].acquire() as p,
        pools["payout"].acquire() as pay,
    ):
        db = {"gifting": g, "projections": p, "payout": pay}
        for check in reconcile_tickets.CHECKS.values():
            examined, found = await check(db)
            assert examined >= 3 and found == [], found
        # the started event owes its creator 2 x 25 diamonds
        owed = await reconcile_tickets.ticket_diamonds_owed(db)
        creator = await g.fetchval(
            "SELECT creator_id FROM live_events WHERE live_event_id = $1", events[1]
        )
        assert owed[creator] == 50

        async def fails(sql: str, *args) -> list[str]:
            tx = g.transaction()
            await tx.start()
            try:
                await g.execute(sql, *args)
                return [d for c in reconcile_tickets.CHECKS.values() for d in (await c(db))[1]]
            finally:
                await tx.rollback()

        # a held ticket lost (refunded without its event): held != sold - refunded - settled
        found = await fails(
            "UPDATE tickets SET state = 'refunded' WHERE ticket_id ="
            " (SELECT ticket_id FROM tickets WHERE live_event_id = $1 LIMIT 1)",
            events[2],
        )
        assert any("coins held" in d and events[2] in d for d in found), found
        # a ticket beyond the capacity, slipped past the seat count
        found = await fails(
            "INSERT INTO tickets (ticket_id, live_event_id, fan_id, coins, purchase_event_id,"
            " balance_after) VALUES (gen_random_uuid(), $1, 'forger', 25, gen_random_uuid(), 0)",
            events[2],
        )
        assert any(f"{events[2]}: 3 tickets" in d and "capacity 2" in d for d in found), found
        # a refund credited twice in the ledger
        found = await fails(
            "UPDATE wallet_ledger SET delta = delta * 2 WHERE kind = 'ticket_refund'"
            " AND user_id = (SELECT fan_id FROM tickets WHERE live_event_id = $1 LIMIT 1)",
            events[0],
        )
        assert any("ticket_refund" in d for d in found), found
