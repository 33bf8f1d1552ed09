"""Recharge with the rest of the system, through real Kafka: a purchase's events travel through
the outbox relay to gifting (and the read models); chargebacks claw coins back; bans placed by
admins, fraud and the moderation topic reach gifting and block buying."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import encode, new_envelope
from eventkit.consumer import IdempotentConsumer
from eventkit.kafka import producer
from eventkit.signing import owner_headers
from schemas import topics
from schemas.events.sanctions import LiftTransactionBan, PlaceTransactionBan
from services.gifting.handlers import HANDLERS as GIFTING_HANDLERS
from services.projections.projector import Incoming, Projector
from services.recharge.handlers import HANDLERS as RECHARGE_HANDLERS
from tests.support.apps import auth, new_id
from tests.support.kafka import read_topic, relay_all
from tests.support.recharge import events_of, problem, recharge_app, settle


@pytest.fixture(scope="module")
async def rc(namespace):
    settings = await namespace("rf")
    async with recharge_app(settings) as env:
        yield env


async def publish(rc) -> list:
    """Relays recharge's outbox to Kafka; returns every record now on its two topics."""
    await relay_all(rc.settings, "recharge")
    sent = await rc.pools["recharge"].fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1", topics.RECHARGE_EVENTS
    )
    bans = await rc.pools["recharge"].fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1", topics.SANCTIONS_EVENTS
    )
    return await read_topic(rc.settings, topics.RECHARGE_EVENTS, expect=sent) + (
        await read_topic(rc.settings, topics.SANCTIONS_EVENTS, expect=bans) if bans else []
    )


async def to_gifting_and_read_models(rc) -> None:
    """What gifting's consumer and the projections worker do with the records (duplicates
    included: both dedupe on the event id)."""
    records = await publish(rc)
    consumer = IdempotentConsumer(
        rc.settings, rc.pools["gifting"], "test", [], GIFTING_HANDLERS, principal="gifting"
    )
    assert await consumer.apply(records) == []
    await Projector(rc.pools["projections"]).apply(
        [
            Incoming(r.value, r.key, r.topic, r.partition, r.offset)
            for r in records
            if r.topic == rc.settings.topic(topics.RECHARGE_EVENTS)
        ]
    )


async def wallet(rc, user) -> int:
    return (await rc.gifting.get("/v1/wallet", headers=auth(rc.settings, user))).json()["balance"]


async def known_creator(rc) -> str:
    creator = new_id("cr")
    r = await rc.gifting.get("/v1/wallet", headers=auth(rc.settings, creator, roles=["creator"]))
    assert r.status_code == 200
    return creator


def gift(creator: str, code="finger_heart", quantity=1) -> dict:
    return {
        "creator_id": creator,
        "context": {"kind": "live", "id": "stream-1"},
        "gift_code": code,
        "quantity": quantity,
    }


async def bought(rc, fan, bundle="coins_350") -> dict:
    r = await rc.client.post(
        "/v1/purchases",
        json={"bundle_id": bundle, "channel": "web"},
        headers=auth(rc.settings, fan),
    )
    assert r.status_code == 202, r.text
    await settle(rc)
    return r.json()


async def test_chargeback_after_spending_leaves_a_negative_balance_that_blocks_spending(rc):
    fan, creator = new_id("fan"), await known_creator(rc)
    purchase = await bought(rc, fan)
    await to_gifting_and_read_models(rc)
    assert await wallet(rc, fan) == 350
    r = await rc.gifting.post(
        "/v1/gifts", json=gift(creator, quantity=60), headers=auth(rc.settings, fan)
    )
    assert r.status_code == 201, r.text  # 300 coins spent, 50 left

    await rc.app.state.provider.reverse(purchase["provider_txn_id"], "suspected_fraud")
    await settle(rc)
    await to_gifting_and_read_models(rc)
    await to_gifting_and_read_models(rc)  # delivered twice: still clawed back once
    assert await wallet(rc, fan) == 50 - 350
    r = await rc.gifting.post(
        "/v1/gifts", json=gift(creator, "rose"), headers=auth(rc.settings, fan)
    )
    assert problem(r) == (409, "insufficient-coins") and r.json()["balance"] == -300
    await relay_all(rc.settings, "gifting")  # the gift's event too: the read model shows the debt
    sent = await rc.pools["gifting"].fetchval(
        "SELECT count(*) FROM outbox WHERE topic = $1", topics.GIFTING_EVENTS
    )
    await Projector(rc.pools["projections"]).apply(
        [
            Incoming(r.value, r.key, r.topic, r.partition, r.offset)
            for r in await read_topic(rc.settings, topics.GIFTING_EVENTS, expect=sent)
        ]
    )
    row = await rc.pools["projections"].fetchrow(
        "SELECT purchased, clawed_back, gifted, balance FROM wallet_balances WHERE user_id = $1",
        fan,
    )
    assert dict(row) == {"purchased": 350, "clawed_back": 350, "gifted": 300, "balance": -300}

    clawback = (await events_of(rc, purchase["purchase_id"]))[-1]
    assert clawback["type"] == "CoinsClawedBack"
    assert (
        clawback["data"]["coins"],
        clawback["data"]["reason_code"],
        clawback["data"]["settlement"],
    ) == (350, "suspected_fraud", {"amount_minor": 374, "currency": "USD"})
    # The fraud code also banned buying, announced on the sanctions topic.
    r = await rc.client.post(
        "/v1/purchases", json={"bundle_id": "coins_70"}, headers=auth(rc.settings, fan)
    )
    assert problem(r) == (403, "transaction-banned")
    bans = await rc.client.get(
        "/v1/admin/bans", params={"user_id": fan}, headers=auth(rc.settings, "ops", roles=["admin"])
    )
    assert [(b["ban_id"], b["scopes"], b["source"]) for b in bans.json()["bans"]] == [
        (f"fraud-{purchase['purchase_id']}", ["buy"], "fraud")
    ]


async def test_refund_claws_back_without_a_ban_and_there_is_no_user_refund_route(rc):
    fan = new_id("fan")
    purchase = await bought(rc, fan, "coins_70")
    await rc.app.state.provider.reverse(purchase["provider_txn_id"], "cancellation")
    await settle(rc)
    got = (
        await rc.client.get(
            f"/v1/purchases/{purchase['purchase_id']}", headers=auth(rc.settings, fan)
        )
    ).json()
    assert (got["status"], got["reason"]) == ("reversed", "cancellation")
    await bought(rc, fan, "coins_70")  # not banned
    paths = rc.app.openapi()["paths"]
    assert not [p for p in paths if "refund" in p]
    r = await rc.client.post(
        f"/v1/purchases/{purchase['purchase_id']}/refund", headers=auth(rc.settings, fan)
    )
    assert r.status_code in (404, 405)


async def test_a_ban_retried_after_it_expired_replays_the_ban_it_placed(rc):
    """The expiry is judged only for a new ban: a retry of one that was placed gets the same
    201 back, not a refusal, even once its expiry has passed."""
    now = datetime.now(UTC)
    headers = auth(rc.settings, "ops-1", roles=["admin"])
    body = {
        "user_id": new_id("fan"),
        "scopes": ["buy"],
        "reason": "spam",
        "expires_at": (now + timedelta(hours=1)).isoformat(),
    }
    placed = await rc.client.post("/v1/admin/bans", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    rc.clock.now = now + timedelta(hours=2)
    try:
        again = await rc.client.post("/v1/admin/bans", json=body, headers=headers)
        fresh = await rc.client.post(
            "/v1/admin/bans", json=body, headers=auth(rc.settings, "ops-1", roles=["admin"])
        )
    finally:
        rc.clock.now = None
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (201, "true")
    assert again.json() == placed.json()
    assert problem(fresh) == (409, "expiry-in-past")


async def test_admin_bans_block_buying_reach_gifting_and_lift_once(rc):
    fan, creator = new_id("fan"), await known_creator(rc)
    admin = auth(rc.settings, "ops-1", roles=["admin"])
    body = {"user_id": fan, "scopes": ["buy", "gift"], "reason": "abuse"}
    r = await rc.client.post("/v1/admin/bans", json=body, headers=auth(rc.settings, fan))
    assert problem(r) == (403, "forbidden")
    r = await rc.client.post("/v1/admin/bans", json=body)
    assert problem(r) == (401, "unauthorized")
    r = await rc.client.post("/v1/admin/bans", json={**body, "scopes": ["fly"]}, headers=admin)
    assert problem(r) == (422, "validation-error")
    r = await rc.client.post(
        "/v1/admin/bans",
        json={**body, "expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        headers=admin,
    )
    assert problem(r) == (409, "expiry-in-past")
    assert "now" in r.json()

    placed = await rc.client.post("/v1/admin/bans", json=body, headers=admin)
    assert placed.status_code == 201, placed.text
    ban = placed.json()
    assert (ban["scopes"], ban["source"], ban["lifted_at"]) == (["buy", "gift"], "admin", None)
    r = await rc.client.post(
        "/v1/purchases", json={"bundle_id": "coins_70"}, headers=auth(rc.settings, fan)
    )
    assert problem(r) == (403, "transaction-banned")
    await to_gifting_and_read_models(rc)
    r = await rc.gifting.post("/v1/gifts", json=gift(creator), headers=auth(rc.settings, fan))
    assert problem(r) == (403, "transaction-banned")

    lift = {"reason": "appeal accepted"}
    first = await rc.client.post(f"/v1/admin/bans/{ban['ban_id']}/lift", json=lift, headers=admin)
    again = await rc.client.post(f"/v1/admin/bans/{ban['ban_id']}/lift", json=lift, headers=admin)
    assert first.status_code == again.status_code == 200
    assert first.json()["lifted_at"] == again.json()["lifted_at"] is not None
    missing = await rc.client.post("/v1/admin/bans/adm-nope/lift", json=lift, headers=admin)
    assert problem(missing) == (404, "ban-not-found")
    await bought(rc, fan, "coins_70")
    await to_gifting_and_read_models(rc)
    r = await rc.gifting.post("/v1/gifts", json=gift(creator), headers=auth(rc.settings, fan))
    assert r.status_code == 201, r.text
    kinds = [
        r["event_type"]
        for r in await rc.pools["recharge"].fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
            f"ban-{ban['ban_id']}",
        )
    ]
    assert kinds == ["TransactionBanPlaced", "TransactionBanLifted"]


async def test_a_ban_with_an_expiry_stops_blocking_when_it_expires(rc):
    fan, admin = new_id("fan"), auth(rc.settings, "ops-2", roles=["admin"])
    ends = datetime.now(UTC) + timedelta(hours=1)
    r = await rc.client.post(
        "/v1/admin/bans",
        json={
            "user_id": fan,
            "scopes": ["account"],
            "reason": "cool-off",
            "expires_at": ends.isoformat(),
        },
        headers=admin,
    )
    assert r.status_code == 201
    r = await rc.client.post(
        "/v1/purchases", json={"bundle_id": "coins_70"}, headers=auth(rc.settings, fan)
    )
    assert problem(r) == (403, "transaction-banned")
    rc.clock.now = ends + timedelta(seconds=1)
    try:
        r = await rc.client.post(
            "/v1/purchases", json={"bundle_id": "coins_70"}, headers=auth(rc.settings, fan)
        )
        assert r.status_code == 202, r.text
    finally:
        rc.clock.now = None


async def test_moderation_commands_place_and_lift_bans_once_through_kafka(rc):
    """The recharge-consumer role's loop on the moderation topic: a repeated command places one
    ban, a lift that overtakes its placement wins, garbage is dead-lettered."""
    banned, forgiven = new_id("fan"), new_id("fan")
    a, b = f"case-{uuid.uuid4().hex[:8]}", f"case-{uuid.uuid4().hex[:8]}"

    def command(payload):
        return new_envelope(
            "/moderation", payload, aggregate_id=f"case-{payload.ban_id}", aggregate_version=1
        )

    place_a = PlaceTransactionBan(ban_id=a, user_id=banned, scopes=["buy"], reason="spam")
    messages = [
        command(place_a),
        command(place_a),
        command(LiftTransactionBan(ban_id=b, user_id=forgiven, reason="mistake")),
        command(PlaceTransactionBan(ban_id=b, user_id=forgiven, scopes=["buy"], reason="spam")),
    ]
    kafka = producer(rc.settings, "moderation")
    await kafka.start()
    try:
        for value, key in [(encode(m), m.aggregateid.encode()) for m in messages] + [
            (b"\x00junk", None)  # signed: it is the payload that is junk
        ]:
            headers = owner_headers(rc.settings, topics.MODERATION_COMMANDS, value, key)
            await kafka.send_and_wait(
                rc.settings.topic(topics.MODERATION_COMMANDS), value, key=key, headers=headers
            )
    finally:
        await kafka.stop()
    consumer = IdempotentConsumer(
        rc.settings,
        rc.pools["recharge"],
        f"{rc.settings.db_prefix}-recharge",
        [topics.MODERATION_COMMANDS],
        RECHARGE_HANDLERS,
        principal="recharge",
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(100):
            rows = await rc.pools["recharge"].fetch(
                "SELECT ban_id, placed_at, lifted_at FROM bans WHERE ban_id = ANY($1)",
                [f"mod-{a}", f"mod-{b}"],
            )
            if (
                len(rows) == 2
                and await rc.pools["recharge"].fetchval(
                    "SELECT count(*) FROM processed_events WHERE topic = $1",
                    rc.settings.topic(topics.MODERATION_COMMANDS),
                )
                == 4
            ):
                break
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    state = {r["ban_id"]: (r["placed_at"] is not None, r["lifted_at"] is not None) for r in rows}
    assert state == {f"mod-{a}": (True, False), f"mod-{b}": (False, True)}
    placed = await rc.pools["recharge"].fetch(
        "SELECT envelope FROM events WHERE stream_id = ANY($1)", [f"ban-mod-{a}", f"ban-mod-{b}"]
    )
    assert [(p["envelope"]["type"], p["envelope"]["data"]["source"]) for p in placed] == [
        ("TransactionBanPlaced", "moderation")
    ]
    r = await rc.client.post(
        "/v1/purchases", json={"bundle_id": "coins_70"}, headers=auth(rc.settings, banned)
    )
    assert problem(r) == (403, "transaction-banned")
    r = await rc.client.post(
        "/v1/purchases", json={"bundle_id": "coins_70"}, headers=auth(rc.settings, forgiven)
    )
    assert r.status_code == 202
    dead = await read_topic(rc.settings, topics.DEAD_LETTER, expect=1)
    assert any(d.value == b"\x00junk" for d in dead)
