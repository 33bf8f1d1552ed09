"""Multi-guest read models: the events gifting itself wrote for a room gift, a LIVE goal and a
battle, projected (twice: a replay counts once) and read through the read API."""

from datetime import UTC, datetime, timedelta

import pytest

from eventkit.codec import encode
from schemas.envelope import Envelope
from services.gifting.api import create as gifting_app
from services.projections.api import create as read_api
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def gifting(prepared):
    async with api_client(gifting_app, prepared) as c:
        yield c


async def creator(client, settings) -> str:
    user = new_id("cr")
    assert (
        await client.get("/v1/wallet", headers=auth(settings, user, roles=["creator"]))
    ).status_code == 200
    return user


async def test_battle_goal_and_recipients_read_as_gifting_decided(gifting, prepared, pools):
    host, guest, rival = [await creator(gifting, prepared) for _ in range(3)]
    room, stream, goal = new_id("room"), new_id("stream"), new_id("goal")
    h = auth(prepared, host, roles=["creator"])
    r = await gifting.put(
        f"/v1/rooms/{room}",
        json={"host_share_bp": 7000, "guests": [{"creator_id": guest, "share_bp": 3000}]},
        headers=h,
    )
    assert r.status_code == 200
    deadline = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    r = await gifting.put(
        f"/v1/goals/{goal}",
        json={"stream_id": stream, "goal": {"metric": "coins", "target": 10}, "deadline": deadline},
        headers=h,
    )
    assert r.status_code == 200
    r = await gifting.post(
        "/v1/battles",
        json={"sides": [{"room_id": room}, {"creator_id": rival}], "duration_seconds": 60},
        headers=h,
    )
    battle = r.json()["battle_id"]
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 100)
    for quantity in (7, 5):
        body = {
            "room_id": room,
            "context": {"kind": "live", "id": stream},
            "gift_code": "rose",
            "quantity": quantity,
        }
        assert (
            await gifting.post("/v1/gifts", json=body, headers=auth(prepared, fan))
        ).status_code == 201
    assert (await gifting.post(f"/v1/battles/{battle}/end", headers=h)).status_code == 200

    rows = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE stream_id = ANY($1::text[]) OR stream_id LIKE $2"
        " ORDER BY position",
        [f"room-{room}", f"goal-{goal}", f"wallet-{fan}"],
        f"battle-{battle}%",
    )
    envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), "t", 0, i)
        for i, e in enumerate(reversed(envelopes))  # in any order: the merges commute
    ]
    projector = Projector(pools["projections"])
    assert await projector.apply(batch) == []
    assert await projector.apply(batch) == []

    fan_h = {"Authorization": auth(prepared, fan)["Authorization"]}
    async with api_client(read_api, prepared) as http:
        b = (await http.get(f"/v1/battles/{battle}", headers=fan_h)).json()
        assert [(s["side"], s["host_id"], s["score"]) for s in b["sides"]] == [
            (0, host, 12),
            (1, rival, 0),
        ]
        assert b["winner_side"] == 0 and b["ended_at"] is not None and "freshness" in b
        g = (await http.get(f"/v1/goals/{goal}", headers=fan_h)).json()
        assert (g["progress"], g["target"]) == (12, 10) and g["reached_by_gift"] is not None
        goals = (await http.get(f"/v1/streams/{stream}/goals", headers=fan_h)).json()["goals"]
        assert [x["goal_id"] for x in goals] == [goal]
        ranks = (await http.get(f"/v1/streams/{stream}/recipients", headers=fan_h)).json()
        # 7 and 5 coins at 1 diamond: the guest floor(2.1) + floor(1.5) = 3, the host the rest
        assert [
            (x["rank"], x["creator_id"], x["coins"], x["diamonds"]) for x in ranks["recipients"]
        ] == [
            (1, host, 9, 9),
            (2, guest, 3, 3),
        ]
        missing = await http.get(f"/v1/battles/{new_id('b')}", headers=fan_h)
        assert missing.status_code == 404
