"""Multi-guest rooms and their gifts over HTTP (in-process ASGI) against real PostgreSQL: the
host's shares, a gift split between the room's recipients with the shares in force, and the
refusals of issue 18 (shares not making 10,000 bp, more than 9 recipients, the sender among the
recipients, one banned guest)."""

import asyncio
import uuid

import pytest

from eventkit.codec import new_envelope
from eventkit.consumer import IdempotentConsumer
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.gifting import GiftSentV2
from schemas.events.sanctions import TransactionBanPlaced
from scripts.reconcile_splits import splits_credited_exactly
from services.gifting.api import create
from services.gifting.handlers import HANDLERS
from services.payout.handlers import BATCH_HANDLERS as PAYOUT_BATCH_HANDLERS
from services.payout.handlers import HANDLERS as PAYOUT_HANDLERS
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import record
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def creator(client, settings, **claims) -> str:
    user = new_id("cr")
    r = await client.get("/v1/wallet", headers=auth(settings, user, roles=["creator"], **claims))
    assert r.status_code == 200
    return user


def host_auth(settings, host):
    return auth(settings, host, roles=["creator"])


def shares(host_bp: int, *guests: tuple[str, int]) -> dict:
    return {
        "host_share_bp": host_bp,
        "guests": [{"creator_id": g, "share_bp": bp} for g, bp in guests],
    }


def problem(r) -> tuple[int, str]:
    return r.status_code, r.json()["type"].rsplit("/", 1)[1]


def room_gift(room: str, code: str = "galaxy", stream: str = "stream-1", quantity: int = 1):
    return {
        "room_id": room,
        "context": {"kind": "live", "id": stream},
        "gift_code": code,
        "quantity": quantity,
    }


async def a_room(client, settings, host_bp: int, guest_bps: list[int]):
    host = await creator(client, settings)
    guests = [await creator(client, settings) for _ in guest_bps]
    room = new_id("room")
    r = await client.put(
        f"/v1/rooms/{room}",
        json=shares(host_bp, *zip(guests, guest_bps, strict=True)),
        headers=host_auth(settings, host),
    )
    assert r.status_code == 200, r.text
    return room, host, guests


async def test_a_room_gift_debits_once_and_records_the_shares_in_force(client, prepared, pools):
    room, host, (g1, g2) = await a_room(client, prepared, 5000, [3333, 1667])
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 5000)
    r = await client.post(
        "/v1/gifts", json=room_gift(room, "rose", quantity=7), headers=auth(prepared, fan)
    )
    assert r.status_code == 201, r.text
    assert r.json()["balance_after"] == 5000 - 7
    assert r.json()["recipients"] == [
        {"creator_id": host, "share_bp": 5000},
        {"creator_id": g1, "share_bp": 3333},
        {"creator_id": g2, "share_bp": 1667},
    ]
    env = await pools["gifting"].fetchval(
        "SELECT envelope FROM events WHERE event_id = $1", uuid.UUID(r.json()["event_id"])
    )
    assert env["dataversion"] == 2 and env["subject"] == host
    gift = GiftSentV2.model_validate(env["data"])
    split = {s.creator_id: s.diamonds for s in gift.split()}
    # 7 coins at 1 diamond each: guests floor(7 x 0.3333) = 2 and floor(7 x 0.1667) = 1, the
    # host the rest, so the parts make the 7 a single creator would have earned.
    assert split == {host: 4, g1: 2, g2: 1}
    # the wallet is debited once, by one ledger row
    assert (
        await pools["gifting"].fetchval(
            "SELECT count(*) FROM wallet_ledger WHERE user_id = $1 AND kind = 'gift'", fan
        )
        == 1
    )

    # New shares: a new version and event; the next gift records those, the first kept its own.
    r2 = await client.put(
        f"/v1/rooms/{room}", json=shares(10_000), headers=host_auth(prepared, host)
    )
    assert r2.json()["version"] == 2 and len(r2.json()["recipients"]) == 1
    again = await client.put(
        f"/v1/rooms/{room}", json=shares(10_000), headers=host_auth(prepared, host)
    )
    assert again.json()["version"] == 2  # the same shares: nothing changed, no event
    versions = await pools["gifting"].fetch(
        "SELECT version, envelope->'data'->'recipients' AS r FROM events"
        " WHERE stream_id = $1 ORDER BY version",
        f"room-{room}",
    )
    assert [v["version"] for v in versions] == [1, 2]
    r3 = await client.post("/v1/gifts", json=room_gift(room, "rose"), headers=auth(prepared, fan))
    assert r3.json()["recipients"] == [{"creator_id": host, "share_bp": 10_000}]
    got = await client.get(f"/v1/rooms/{room}", headers=auth(prepared, fan))
    assert got.status_code == 200 and got.json()["version"] == 2


@pytest.mark.parametrize(
    "body",
    [
        shares(5000, ("a", 4000)),  # 9,000 bp
        shares(5000, ("a", 4000), ("b", 2000)),  # 11,000 bp
        shares(2000, *((f"g{i}", 1000) for i in range(8)), ("g8", 1)),  # 10 recipients
        shares(5000, ("a", 2500), ("a", 2500)),  # a guest twice
        shares(0, ("a", 10_000)),  # a host with no share
    ],
)
async def test_shares_not_making_one_whole_gift_or_too_many_recipients_are_422(
    client, prepared, body
):
    host = await creator(client, prepared)
    r = await client.put(
        f"/v1/rooms/{new_id('room')}", json=body, headers=host_auth(prepared, host)
    )
    assert r.status_code == 422, r.text


async def test_nine_recipients_are_accepted(client, prepared):
    host = await creator(client, prepared)
    guests = [await creator(client, prepared) for _ in range(8)]
    r = await client.put(
        f"/v1/rooms/{new_id('room')}",
        json=shares(2000, *((g, 1000) for g in guests)),
        headers=host_auth(prepared, host),
    )
    assert r.status_code == 200 and len(r.json()["recipients"]) == 9


async def test_room_refusals(client, prepared):
    room, host, (guest,) = await a_room(client, prepared, 6000, [4000])
    other = await creator(client, prepared)
    # another host cannot take the room over
    r = await client.put(
        f"/v1/rooms/{room}", json=shares(10_000), headers=host_auth(prepared, other)
    )
    assert problem(r) == (403, "room-owned")
    # the host is not also a guest
    r = await client.put(
        f"/v1/rooms/{new_id('room')}",
        json=shares(5000, (host, 5000)),
        headers=host_auth(prepared, host),
    )
    assert problem(r) == (422, "host-is-guest")
    # a guest gifting knows nothing of
    r = await client.put(
        f"/v1/rooms/{new_id('room')}",
        json=shares(5000, (new_id("nobody"), 5000)),
        headers=host_auth(prepared, host),
    )
    assert problem(r) == (404, "recipient-not-found")
    # a fan hosts nothing
    r = await client.put(
        f"/v1/rooms/{new_id('room')}", json=shares(10_000), headers=auth(prepared, new_id("fan"))
    )
    assert problem(r) == (403, "forbidden")
    assert problem(
        await client.get(f"/v1/rooms/{new_id('room')}", headers=auth(prepared, host))
    ) == (
        404,
        "room-not-found",
    )


async def test_a_gift_names_a_creator_or_a_room_not_both_nor_neither(client, prepared, pools):
    room, host, _ = await a_room(client, prepared, 6000, [4000])
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 100)
    both = {**room_gift(room, "rose"), "creator_id": host}
    neither = {k: v for k, v in room_gift(room, "rose").items() if k != "room_id"}
    for body in (both, neither):
        r = await client.post("/v1/gifts", json=body, headers=auth(prepared, fan))
        assert r.status_code == 422, r.text
    r = await client.post(
        "/v1/gifts", json=room_gift(new_id("room"), "rose"), headers=auth(prepared, fan)
    )
    assert problem(r) == (404, "room-not-found")


async def test_a_sender_among_the_recipients_is_422_and_charged_nothing(client, prepared, pools):
    room, host, (guest,) = await a_room(client, prepared, 6000, [4000])
    await fund_wallet(pools["gifting"], guest, 100)
    for sender in (guest, host):
        await fund_wallet(pools["gifting"], sender, 100) if sender == host else None
        r = await client.post(
            "/v1/gifts", json=room_gift(room, "rose"), headers=auth(prepared, sender)
        )
        assert problem(r) == (422, "sender-is-recipient")
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", guest)
        == 100
    )


async def apply_ban(pools, user: str, scope: str) -> None:
    ban = TransactionBanPlaced(
        ban_id=new_id("ban"), user_id=user, scopes=[scope], reason="fraud", source="moderation"
    )
    env = new_envelope(
        "/test", ban, aggregate_id=f"test-{uuid.uuid4()}", aggregate_version=1, subject=user
    )
    async with pools["gifting"].acquire() as conn, conn.transaction():
        await HANDLERS[env.type](conn, env, ban)


async def test_one_banned_guest_refuses_the_whole_gift(client, prepared, pools):
    room, host, (g1, g2) = await a_room(client, prepared, 5000, [2500, 2500])
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    await apply_ban(pools, g2, "receive")
    r = await client.post("/v1/gifts", json=room_gift(room, "rose"), headers=auth(prepared, fan))
    assert problem(r) == (403, "recipient-not-eligible")
    assert g2 in r.json()["detail"]
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan)
        == 1000
    )
    assert (
        await pools["gifting"].fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1", f"wallet-{fan}"
        )
        == 0
    )


async def test_an_under_age_guest_refuses_the_whole_gift(client, prepared, pools):
    room, host, (g1,) = await a_room(client, prepared, 5000, [5000])
    # the guest's profile changes after the room was set (a new sign-in's verified claims)
    r = await client.get(
        "/v1/wallet", headers=auth(prepared, g1, roles=["creator"], birthdate="2015-01-01")
    )
    assert r.status_code == 200
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    r = await client.post("/v1/gifts", json=room_gift(room, "rose"), headers=auth(prepared, fan))
    assert problem(r) == (403, "recipient-not-eligible")
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan)
        == 1000
    )


async def test_payout_credits_a_room_gift_as_the_splits_reconcile_expects(client, prepared, pools):
    """The room gift gifting recorded, consumed by payout-consumer's own handlers, credits each
    recipient what scripts/reconcile_splits computes independently; a tampered credit is named."""
    room, host, (g1, g2) = await a_room(client, prepared, 5000, [3333, 1667])
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 5000)
    r = await client.post(
        "/v1/gifts", json=room_gift(room, "finger_heart", quantity=7), headers=auth(prepared, fan)
    )
    assert r.status_code == 201
    raw = await pools["gifting"].fetchval(
        "SELECT envelope FROM events WHERE event_id = $1", uuid.UUID(r.json()["event_id"])
    )
    envelope = Envelope.model_validate(raw)
    consumer = IdempotentConsumer(
        prepared,
        pools["payout"],
        "test-payout-splits",
        [topics.GIFTING_EVENTS],
        PAYOUT_HANDLERS,
        PAYOUT_BATCH_HANDLERS,
        principal="payout",
    )
    assert await consumer.apply([record(envelope)]) == []
    gift_id = r.json()["gift_id"]
    db = {"gifting": pools["gifting"], "payout": pools["payout"]}
    examined, found = await splits_credited_exactly(db)
    assert examined >= 1 and not [f for f in found if gift_id in f]
    credits = {
        c["creator_id"]: c["diamonds"]
        for c in await pools["payout"].fetch(
            "SELECT creator_id, diamonds FROM credits WHERE source_id = $1", gift_id
        )
    }
    assert credits == {host: 19, g1: 11, g2: 5}  # 35 coins: floor(11.67), floor(5.83), the rest
    async with pools["payout"].acquire() as conn:
        tampering = conn.transaction()
        await tampering.start()
        try:
            await conn.execute(  # the remainder given to a guest instead of the host
                "UPDATE credits SET diamonds = diamonds"
                " + CASE WHEN creator_id = $2 THEN -1 ELSE 1 END"
                " WHERE source_id = $1 AND creator_id IN ($2, $3)",
                gift_id,
                host,
                g1,
            )
            _, found = await splits_credited_exactly({**db, "payout": conn})
            assert [f for f in found if gift_id in f]
        finally:
            await tampering.rollback()


async def test_room_and_plain_gifts_commit_together_and_a_retry_replays_its_shares(
    client, prepared, pools
):
    room, host, (guest,) = await a_room(client, prepared, 6000, [4000])
    fans = [new_id("fan") for _ in range(40)]
    for f in fans:
        await fund_wallet(pools["gifting"], f, 10)
    bodies = [
        room_gift(room, "rose")
        if n % 2
        else {**room_gift(room, "rose"), "room_id": None, "creator_id": guest}
        for n in range(40)
    ]
    bodies = [{k: v for k, v in b.items() if v is not None} for b in bodies]
    replies = await asyncio.gather(
        *(
            client.post("/v1/gifts", json=b, headers=auth(prepared, f))
            for b, f in zip(bodies, fans, strict=True)
        )
    )
    assert [r.status_code for r in replies] == [201] * 40
    assert {len(r.json()["recipients"]) for r in replies} == {1, 2}
    # a retry with the same key after the host changed the shares answers the first gift as it was
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 10)
    headers = auth(prepared, fan)
    first = await client.post("/v1/gifts", json=room_gift(room, "rose"), headers=headers)
    r = await client.put(
        f"/v1/rooms/{room}", json=shares(10_000), headers=host_auth(prepared, host)
    )
    assert r.json()["version"] == 2
    again = await client.post("/v1/gifts", json=room_gift(room, "rose"), headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json() and len(again.json()["recipients"]) == 2
    assert (
        await pools["gifting"].fetchval("SELECT balance FROM wallets WHERE user_id = $1", fan) == 9
    )
