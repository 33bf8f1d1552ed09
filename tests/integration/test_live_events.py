"""Ticketed live events through the gifting API (in-process ASGI, real PostgreSQL): capacity
under concurrent buyers, coins held until the start, a refund of its own per ticket on cancel,
a cancel racing a start with one outcome; then the start's settlement credited by payout."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import decode
from schemas.events.live_events import LiveEventStarted
from services.gifting.api import create
from services.payout.handlers import HANDLERS
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


def kind(r) -> str:
    return r.json()["type"].rsplit("/", 1)[1]


async def schedule(client, settings, creator, *, coins=10, capacity=50, starts_in=60) -> dict:
    r = await client.post(
        "/v1/live-events",
        json={
            "title": "fans only",
            "coins": coins,
            "capacity": capacity,
            "starts_at": (datetime.now(UTC) + timedelta(seconds=starts_in)).isoformat(),
        },
        headers=auth(settings, creator, roles=["creator"]),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def buy(client, settings, fan, event, key=None, coins=None):
    return await client.post(
        f"/v1/live-events/{event['live_event_id']}/tickets",
        json={"coins": event["coins"] if coins is None else coins},
        headers=auth(settings, fan, key),
    )


async def balance(pools, user) -> int:
    return await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", user)


async def test_200_concurrent_buyers_for_50_seats_get_exactly_50(client, prepared, pools):
    creator = new_id("star")
    event = await schedule(client, prepared, creator, coins=10, capacity=50)
    fans = [new_id("fan") for _ in range(200)]
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 25)
    responses = await asyncio.wait_for(
        asyncio.gather(*(buy(client, prepared, fan, event) for fan in fans)), timeout=120
    )
    assert sorted({r.status_code for r in responses}) == [201, 409]
    won = [fan for fan, r in zip(fans, responses, strict=True) if r.status_code == 201]
    assert len(won) == 50
    assert {kind(r) for r in responses if r.status_code == 409} == {"sold-out"}
    db = pools["gifting"]
    row = await db.fetchrow(
        "SELECT sold, (SELECT count(*) FROM tickets t WHERE t.live_event_id = e.live_event_id)"
        " AS tickets FROM live_events e WHERE live_event_id = $1",
        event["live_event_id"],
    )
    assert (row["sold"], row["tickets"]) == (50, 50)
    for fan, r in zip(fans, responses, strict=True):  # only the 50 were charged, once
        assert await balance(pools, fan) == (15 if r.status_code == 201 else 25)
    got = (await client.get(f"/v1/live-events/{event['live_event_id']}")).json()
    assert (got["sold"], got["seats_left"], got["state"]) == (50, 0, "scheduled")


async def test_one_ticket_per_fan_and_the_refusals(client, prepared, pools):
    creator, fan, poor = new_id("star"), new_id("fan"), new_id("fan")
    event = await schedule(client, prepared, creator, coins=100, capacity=3)
    await fund_wallet(pools["gifting"], fan, 250)
    await fund_wallet(pools["gifting"], poor, 50)
    first = await buy(client, prepared, fan, event)
    assert first.status_code == 201, first.text
    assert first.json()["balance_after"] == 150 and first.json()["state"] == "held"
    again = await buy(client, prepared, fan, event)  # another key: the ticket held, no charge
    assert again.status_code == 200 and again.json()["already_bought"]
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert await balance(pools, fan) == 150
    assert kind(await buy(client, prepared, poor, event)) == "insufficient-coins"
    assert kind(await buy(client, prepared, poor, event, coins=99)) == "price-changed"
    assert kind(await buy(client, prepared, creator, event)) == "self-ticket"
    missing = {**event, "live_event_id": new_id("nope")}
    assert kind(await buy(client, prepared, fan, missing)) == "live-event-not-found"
    assert await balance(pools, poor) == 50
    mine = (await client.get("/v1/tickets", headers=auth(prepared, fan))).json()
    assert [t["ticket_id"] for t in mine] == [first.json()["ticket_id"]]


async def test_cancel_refunds_every_ticket_as_its_own_event(client, prepared, pools):
    creator = new_id("star")
    event = await schedule(client, prepared, creator, coins=40, capacity=10)
    fans = [new_id("fan") for _ in range(6)]
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 100)
    for fan in fans[:4]:
        assert (await buy(client, prepared, fan, event)).status_code == 201
    path = f"/v1/live-events/{event['live_event_id']}"
    assert (await client.post(f"{path}/cancel", headers=auth(prepared, fans[0]))).status_code == 403
    r = await client.post(f"{path}/cancel", headers=auth(prepared, creator, roles=["creator"]))
    assert r.status_code == 200, r.text
    assert (r.json()["tickets"], r.json()["coins"]) == (4, 160)
    for fan in fans:
        assert await balance(pools, fan) == 100
    db = pools["gifting"]
    refunds = await db.fetch(
        "SELECT envelope->'data' AS d FROM events WHERE event_type = 'TicketRefunded'"
        " AND envelope->'data'->>'live_event_id' = $1",
        event["live_event_id"],
    )
    assert sorted(r["d"]["fan_id"] for r in refunds) == sorted(fans[:4])
    assert all(r["d"]["balance_after"] == 100 for r in refunds)
    ledger = await db.fetch(
        "SELECT user_id, kind, delta FROM wallet_ledger WHERE user_id = ANY($1::text[])"
        " AND kind LIKE 'ticket%' ORDER BY entry_id",
        fans,
    )
    assert sorted((x["user_id"], x["kind"], x["delta"]) for x in ledger) == sorted(
        [(f, "ticket", -40) for f in fans[:4]] + [(f, "ticket_refund", 40) for f in fans[:4]]
    )
    assert kind(await buy(client, prepared, fans[5], event)) == "live-event-closed"
    again = await client.post(f"{path}/start", headers=auth(prepared, creator, roles=["creator"]))
    assert kind(again) == "live-event-closed"


async def test_cancel_racing_start_has_exactly_one_outcome(client, prepared, pools):
    creator = new_id("star")
    fans = [new_id("fan") for _ in range(3)]
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 1000)
    for _ in range(10):
        event = await schedule(client, prepared, creator, coins=30, capacity=5)
        for fan in fans:
            assert (await buy(client, prepared, fan, event)).status_code == 201
        path = f"/v1/live-events/{event['live_event_id']}"
        started, cancelled = await asyncio.gather(
            client.post(f"{path}/start", headers=auth(prepared, creator, roles=["creator"])),
            client.post(f"{path}/cancel", headers=auth(prepared, creator, roles=["creator"])),
        )
        assert sorted([started.status_code, cancelled.status_code]) == [200, 409]
        loser = cancelled if cancelled.status_code == 409 else started
        assert kind(loser) == "live-event-closed"
        state = (await client.get(path)).json()["state"]
        tickets = await pools["gifting"].fetch(
            "SELECT state FROM tickets WHERE live_event_id = $1", event["live_event_id"]
        )
        assert {t["state"] for t in tickets} == {
            "started": {"settled"},
            "cancelled": {"refunded"},
        }[state]
        closing = await pools["gifting"].fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
            f"live-event-{event['live_event_id']}",
        )
        assert [c["event_type"] for c in closing] == [
            "LiveEventScheduled",
            "LiveEventStarted" if state == "started" else "LiveEventCancelled",
        ]


async def test_coins_are_held_until_the_start_then_credited_to_the_creator(client, prepared, pools):
    creator = new_id("star")
    event = await schedule(client, prepared, creator, coins=70, capacity=5, starts_in=3600)
    fans = [new_id("fan") for _ in range(3)]
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 70)
        assert (await buy(client, prepared, fan, event)).status_code == 201
    path = f"/v1/live-events/{event['live_event_id']}"
    early = await client.post(f"{path}/start", headers=auth(prepared, creator, roles=["creator"]))
    assert kind(early) == "live-event-too-early"
    await pools["gifting"].execute(  # the start time comes closer
        "UPDATE live_events SET starts_at = now() + interval '10 minutes' WHERE live_event_id = $1",
        event["live_event_id"],
    )
    r = await client.post(f"{path}/start", headers=auth(prepared, creator, roles=["creator"]))
    assert r.status_code == 200, r.text
    assert (r.json()["tickets"], r.json()["coins"]) == (3, 210)
    value = await pools["gifting"].fetchval(
        "SELECT value FROM outbox o JOIN events e USING (event_id)"
        " WHERE e.event_type = 'LiveEventStarted' AND e.stream_id = $1",
        f"live-event-{event['live_event_id']}",
    )
    envelope, started = decode(value)
    assert isinstance(started, LiveEventStarted) and started.coins == 210
    # payout-consumer's handler for it, on payout's own database: the creator earns it once
    payout = pools["payout"]
    for _ in range(2):
        async with payout.acquire() as conn, conn.transaction():
            await HANDLERS[envelope.type](conn, envelope, started)
    earned = await payout.fetchval("SELECT earned FROM creators WHERE creator_id = $1", creator)
    assert earned == 210  # floor(210 x 1 diamond per coin), credited once


async def test_a_start_time_in_the_past_or_too_far_ahead_is_refused(client, prepared):
    for seconds in (-5, 366 * 86400):
        r = await client.post(
            "/v1/live-events",
            json={
                "title": "never",
                "coins": 10,
                "capacity": 5,
                "starts_at": (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(),
            },
            headers=auth(prepared, new_id("star"), roles=["creator"]),
        )
        assert (r.status_code, kind(r)) == (409, "invalid-start-time")
    fan = await client.post(
        "/v1/live-events",
        json={"title": "x", "coins": 1, "capacity": 1, "starts_at": "2027-06-01T20:00:00Z"},
        headers=auth(prepared, new_id("fan")),
    )
    assert fan.status_code == 403  # only creators schedule
