"""Fan levels against real PostgreSQL: the gift batch keeps gifting's fan_points, the exclusive
gift needs level 5, and the projections' days (a rebuild's fold of the same events) give the
same state as gifting's live table."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import decode, new_envelope
from schemas.events.gifting import GiftContext, GiftSentV2, Recipient
from services.gifting import fan_levels, fan_levels_store
from services.gifting.api import create
from services.gifting.fan_levels import FanPoints, fold
from services.projections import fan_levels as projected
from services.projections.api import create as create_projections
from services.projections.read_models import READ_MODELS, Fact
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


def gift(creator: str, code: str, quantity: int = 1) -> dict:
    return {
        "creator_id": creator,
        "context": {"kind": "live", "id": "stream-fans"},
        "gift_code": code,
        "quantity": quantity,
    }


async def known_creator(client, settings) -> str:
    creator = new_id("star")
    r = await client.get("/v1/wallet", headers=auth(settings, creator, roles=["creator"]))
    assert r.status_code == 200
    return creator


async def test_the_exclusive_gift_needs_fan_level_5(client, prepared, pools):
    creator, fan = await known_creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 4_000)
    r = await client.post("/v1/gifts", json=gift(creator, "fan_crown"), headers=auth(prepared, fan))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/fan-level-too-low")
    assert (r.json()["level_needed"], r.json()["level"]) == (5, 0)
    two = await client.post(
        "/v1/gifts", json=gift(creator, "galaxy", 2), headers=auth(prepared, fan)
    )
    assert two.status_code == 201, two.text
    r = await client.post("/v1/gifts", json=gift(creator, "fan_crown"), headers=auth(prepared, fan))
    assert r.status_code == 403 and r.json()["level"] == 4  # 2,000 points
    more = await client.post(
        "/v1/gifts", json=gift(creator, "rose", 500), headers=auth(prepared, fan)
    )
    assert more.status_code == 201, more.text
    r = await client.post("/v1/gifts", json=gift(creator, "fan_crown"), headers=auth(prepared, fan))
    assert r.status_code == 201, r.text
    level = (await client.get(f"/v1/fan-levels/{creator}", headers=auth(prepared, fan))).json()
    assert (level["points"], level["level"], level["next_level_points"]) == (2_599, 5, 5_000)
    # a level is with one creator: the same fan is no member of another's club
    other = await known_creator(client, prepared)
    r = await client.post("/v1/gifts", json=gift(other, "fan_crown"), headers=auth(prepared, fan))
    assert r.status_code == 403
    catalog = (await client.get("/v1/gifts/catalog?country=US")).json()
    assert {g["gift_code"]: g["min_fan_level"] for g in catalog["gifts"]}["fan_crown"] == 5


async def test_concurrent_gifts_each_count_once_and_the_projection_agrees(client, prepared, pools):
    creator = await known_creator(client, prepared)
    fans = [new_id("fan") for _ in range(5)]
    for fan in fans:
        await fund_wallet(pools["gifting"], fan, 100)
    sends = [(fan, n) for fan in fans for n in range(1, 13)]  # 78 coins wanted, 100 held
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/gifts", json=gift(creator, "finger_heart"), headers=auth(prepared, fan)
            )
            for fan, _ in sends
        )
    )
    assert {r.status_code for r in responses} <= {201, 409}
    db = pools["gifting"]
    for fan in fans:
        accepted = sum(
            r.json()["coins"]
            for (f, _), r in zip(sends, responses, strict=True)
            if f == fan and r.status_code == 201
        )
        assert accepted == 60  # 12 x 5 coins: all of them, each counted once
        row = await db.fetchrow(
            "SELECT points FROM fan_points WHERE fan_id = $1 AND creator_id = $2", fan, creator
        )
        assert row["points"] == accepted
    # the rebuild's path: the same events, as published, folded by the projection
    values = await db.fetch(
        "SELECT o.value FROM outbox o JOIN events e USING (event_id)"
        " WHERE e.event_type = 'GiftSent' AND e.stream_id = ANY($1::text[])",
        [f"wallet-{f}" for f in fans],
    )
    facts = [Fact(*decode(v["value"])) for v in values]
    async with db.acquire() as conn:
        live = {fan: await fan_levels_store.state(conn, fan, creator) for fan in fans}
    async with pools["projections"].acquire() as conn, conn.transaction():
        await READ_MODELS["fan_levels"].project(conn, facts)
        rebuilt = {fan: await projected.fan_state(conn, fan, creator) for fan in fans}
    assert rebuilt == live
    # the read API answers the same level (the projections' own, folded by the same rules)
    async with api_client(create_projections, prepared) as read:
        got = await read.get(f"/v1/fan-levels/{creator}", headers=auth(prepared, fans[0]))
    assert got.status_code == 200, got.text
    assert (got.json()["points"], got.json()["level"]) == (60, 1)


def gift_on(fan: str, creators: list[tuple[str, int]], coins: int, at: datetime):
    """A GiftSent v2 as the batch writes it, dated `at` (a day of a synthetic history)."""
    payload = GiftSentV2(
        gift_id=str(uuid.uuid4()),
        sender_id=fan,
        recipients=tuple(Recipient(creator_id=c, share_bp=bp) for c, bp in creators),
        context=GiftContext(kind="live", id="s"),
        gift_code="rose",
        quantity=coins,
        unit_price=1,
        coins=coins,
        diamonds_per_coin="1",
        commission_rate="0.5",
        rates_version=1,
        catalog_version=2,
        balance_after=0,
    )
    envelope = new_envelope("/test", payload, aggregate_id=f"wallet-{fan}", aggregate_version=1)
    return envelope.model_copy(update={"time": at}), payload


async def test_rebuild_equals_live_over_days_of_decay_and_a_lapse(pools):
    """Live: gifting folds each batch into fan_points as it commits. Rebuild: the projection
    folds the same events in one go, by day. Over a history with idle days, a lapse and
    split gifts, both give every pair the same state (and so the same level on any day)."""
    fan, host, guest = new_id("fan"), new_id("host"), new_id("guest")
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    plan = [(0, 900), (0, 250), (1, 40), (4, 3_000), (5, 77), (15, 600), (16, 5), (19, 1_234)]
    batches = [
        [gift_on(fan, [(host, 7_000), (guest, 3_000)], coins, start + timedelta(days=d))]
        for d, coins in plan
    ]
    async with pools["gifting"].acquire() as conn:
        for batch in batches:
            async with conn.transaction():
                await fan_levels_store.record(conn, [e for e, _ in batch])
        live = {c: await fan_levels_store.state(conn, fan, c) for c in (host, guest)}
    facts = [Fact(e, p) for batch in reversed(batches) for e, p in batch]  # any order
    async with pools["projections"].acquire() as conn, conn.transaction():
        await READ_MODELS["fan_levels"].project(conn, facts)
        rebuilt = {c: await projected.fan_state(conn, fan, c) for c in (host, guest)}
    assert rebuilt == live
    # days 5 -> 15 lapsed the membership (9 idle days): only days 15, 16 and 19 count
    host_parts = [(start.date() + timedelta(days=d), c - c * 3_000 // 10_000) for d, c in plan]
    assert live[host] == fold(host_parts[5:]) == fold(host_parts)
    assert live[host] == FanPoints(fan_levels.decayed(420 + 4, 2) + 864, host_parts[-1][0])
