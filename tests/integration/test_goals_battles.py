"""LIVE goals and battles over HTTP (in-process ASGI) against real PostgreSQL: progress and
scores moved by the gift batches, GoalReached exactly once under 100 concurrent gifts crossing
the target, nothing counted after a deadline or a battle's end."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from services.gifting import battles
from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def creator(client, settings) -> str:
    user = new_id("cr")
    r = await client.get("/v1/wallet", headers=auth(settings, user, roles=["creator"]))
    assert r.status_code == 200
    return user


def problem(r) -> tuple[int, str]:
    return r.status_code, r.json()["type"].rsplit("/", 1)[1]


def gift(creator: str, stream: str, code: str = "rose", quantity: int = 1) -> dict:
    return {
        "creator_id": creator,
        "context": {"kind": "live", "id": stream},
        "gift_code": code,
        "quantity": quantity,
    }


def soon(minutes: int = 10) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def set_goal(client, settings, host, stream, goal, deadline=None):
    goal_id = new_id("goal")
    r = await client.put(
        f"/v1/goals/{goal_id}",
        json={"stream_id": stream, "goal": goal, "deadline": deadline or soon()},
        headers=auth(settings, host, roles=["creator"]),
    )
    assert r.status_code == 200, r.text
    return goal_id


async def reached_events(pools, goal_id) -> list:
    return await pools["gifting"].fetch(
        "SELECT e.envelope FROM events e JOIN outbox o USING (event_id)"
        " WHERE e.stream_id = $1 AND e.event_type = 'GoalReached'",
        f"goal-{goal_id}",
    )


async def test_goal_reached_exactly_once_under_100_concurrent_gifts(client, prepared, pools):
    host, stream = await creator(client, prepared), new_id("stream")
    goal_id = await set_goal(client, prepared, host, stream, {"metric": "coins", "target": 50})
    fans = [new_id("fan") for _ in range(100)]
    for f in fans:
        await fund_wallet(pools["gifting"], f, 10)
    # Four API instances (four batchers, two flushers each): the gifts commit in batches that
    # run at once and race for the goal.
    async with contextlib.AsyncExitStack() as stack:
        apps = [client] + [
            await stack.enter_async_context(api_client(create, prepared)) for _ in range(3)
        ]
        replies = await asyncio.gather(
            *(
                apps[n % 4].post("/v1/gifts", json=gift(host, stream), headers=auth(prepared, f))
                for n, f in enumerate(fans)
            )
        )
    assert [r.status_code for r in replies] == [201] * 100
    events = await reached_events(pools, goal_id)
    assert len(events) == 1
    data = events[0]["envelope"]["data"]
    assert data["target"] == 50 and data["progress"] >= 50
    assert data["gift_id"] in {r.json()["gift_id"] for r in replies}
    r = await client.get(f"/v1/goals/{goal_id}", headers=auth(prepared, host))
    assert r.json()["progress"] == 100 and r.json()["reached"] is True
    assert r.json()["reached_by_gift"] == data["gift_id"]
    # The goal's events number one stream without gaps: GoalSet, then progress and the one
    # GoalReached, whatever the batching.
    versions = [
        v["version"]
        for v in await pools["gifting"].fetch(
            "SELECT version FROM events WHERE stream_id = $1 ORDER BY version", f"goal-{goal_id}"
        )
    ]
    assert versions == list(range(1, len(versions) + 1))
    progress = await pools["gifting"].fetch(
        "SELECT (envelope->'data'->>'progress')::int AS p FROM events"
        " WHERE stream_id = $1 AND event_type = 'GoalProgressed' ORDER BY version",
        f"goal-{goal_id}",
    )
    assert progress[-1]["p"] == 100 and [p["p"] for p in progress] == sorted(
        p["p"] for p in progress
    )


async def test_a_goal_of_n_gifts_counts_only_that_gift_and_only_before_its_deadline(
    client, prepared, pools
):
    host, stream = await creator(client, prepared), new_id("stream")
    goal_id = await set_goal(
        client, prepared, host, stream, {"metric": "gifts", "gift_code": "rose", "target": 5}
    )
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 10_000)
    await client.post("/v1/gifts", json=gift(host, stream, "galaxy"), headers=auth(prepared, fan))
    await client.post(
        "/v1/gifts", json=gift(host, "other-stream", "rose", 9), headers=auth(prepared, fan)
    )
    await client.post("/v1/gifts", json=gift(host, stream, "rose", 4), headers=auth(prepared, fan))
    r = await client.get(f"/v1/goals/{goal_id}", headers=auth(prepared, host))
    assert (r.json()["progress"], r.json()["reached"]) == (4, False)
    # After the deadline (the app's clock moved past it) nothing counts and nothing is reached.
    client._transport.app.state.clock = lambda: datetime.now(UTC) + timedelta(minutes=11)
    try:
        r = await client.post(
            "/v1/gifts", json=gift(host, stream, "rose", 3), headers=auth(prepared, fan)
        )
        assert r.status_code == 201
    finally:
        client._transport.app.state.clock = lambda: datetime.now(UTC)
    r = await client.get(f"/v1/goals/{goal_id}", headers=auth(prepared, host))
    assert (r.json()["progress"], r.json()["reached"]) == (4, False)
    assert await reached_events(pools, goal_id) == []
    r = await client.post(
        "/v1/gifts", json=gift(host, stream, "rose", 1), headers=auth(prepared, fan)
    )
    r = await client.get(f"/v1/goals/{goal_id}", headers=auth(prepared, host))
    assert (r.json()["progress"], r.json()["reached"]) == (5, True)


async def test_goal_refusals(client, prepared):
    host, stream = await creator(client, prepared), new_id("stream")
    headers = auth(prepared, host, roles=["creator"])
    goal_id = await set_goal(client, prepared, host, stream, {"metric": "coins", "target": 10})
    r = await client.get(f"/v1/goals/{goal_id}", headers=headers)
    same = {
        "stream_id": stream,
        "goal": {"metric": "coins", "target": 10},
        "deadline": r.json()["deadline"],
    }
    assert (await client.put(f"/v1/goals/{goal_id}", json=same, headers=headers)).status_code == 200
    other = {**same, "goal": {"metric": "coins", "target": 11}}
    assert problem(await client.put(f"/v1/goals/{goal_id}", json=other, headers=headers)) == (
        409,
        "goal-exists",
    )
    past = {**same, "deadline": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    assert problem(await client.put(f"/v1/goals/{new_id('g')}", json=past, headers=headers)) == (
        409,
        "deadline-out-of-range",
    )
    bad_gift = {**same, "goal": {"metric": "gifts", "gift_code": "no-such-gift", "target": 1}}
    assert problem(
        await client.put(f"/v1/goals/{new_id('g')}", json=bad_gift, headers=headers)
    ) == (
        404,
        "gift-not-found",
    )
    mixed = {**same, "goal": {"metric": "coins", "gift_code": "rose", "target": 1}}
    assert (
        await client.put(f"/v1/goals/{new_id('g')}", json=mixed, headers=headers)
    ).status_code == 422
    fan = auth(prepared, new_id("fan"))
    assert problem(await client.put(f"/v1/goals/{new_id('g')}", json=same, headers=fan)) == (
        403,
        "forbidden",
    )
    assert problem(await client.get(f"/v1/goals/{new_id('g')}", headers=fan)) == (
        404,
        "goal-not-found",
    )


async def test_a_battle_scores_each_side_and_stops_at_its_end(client, prepared, pools):
    a, b, guest = [await creator(client, prepared) for _ in range(3)]
    room = new_id("room")
    r = await client.put(
        f"/v1/rooms/{room}",
        json={"host_share_bp": 6000, "guests": [{"creator_id": guest, "share_bp": 4000}]},
        headers=auth(prepared, a, roles=["creator"]),
    )
    assert r.status_code == 200
    body = {"sides": [{"room_id": room}, {"creator_id": b}], "duration_seconds": 300}
    r = await client.post("/v1/battles", json=body, headers=auth(prepared, a, roles=["creator"]))
    assert r.status_code == 201, r.text
    battle = r.json()["battle_id"]
    assert [(s["side"], s["host_id"], s["room_id"]) for s in r.json()["sides"]] == [
        (0, a, room),
        (1, b, None),
    ]
    # a host is on one open battle at a time
    again = {"sides": [{"creator_id": b}, {"creator_id": guest}], "duration_seconds": 60}
    r = await client.post("/v1/battles", json=again, headers=auth(prepared, b, roles=["creator"]))
    assert problem(r) == (409, "battle-busy")
    # only a side's host starts one
    r = await client.post("/v1/battles", json=again, headers=auth(prepared, a, roles=["creator"]))
    assert problem(r) == (403, "forbidden")

    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 1000)
    room_gift = {
        "room_id": room,
        "context": {"kind": "live", "id": "s"},
        "gift_code": "rose",
        "quantity": 7,
    }
    assert (
        await client.post("/v1/gifts", json=room_gift, headers=auth(prepared, fan))
    ).status_code == 201
    assert (
        await client.post("/v1/gifts", json=gift(b, "s2", quantity=3), headers=auth(prepared, fan))
    ).status_code == 201
    # a gift to the guest alone is not the room's side
    assert (
        await client.post("/v1/gifts", json=gift(guest, "s3"), headers=auth(prepared, fan))
    ).status_code == 201
    r = await client.get(f"/v1/battles/{battle}", headers=auth(prepared, fan))
    assert [s["score"] for s in r.json()["sides"]] == [7, 3] and not r.json()["ended"]

    r = await client.post(f"/v1/battles/{battle}/end", headers=auth(prepared, fan))
    assert problem(r) == (403, "forbidden")
    r = await client.post(f"/v1/battles/{battle}/end", headers=auth(prepared, b, roles=["creator"]))
    assert r.json()["ended"] and r.json()["winner_side"] == 0
    assert (
        await client.post("/v1/gifts", json=gift(b, "s2", quantity=9), headers=auth(prepared, fan))
    ).status_code == 201
    r = await client.post(f"/v1/battles/{battle}/end", headers=auth(prepared, a, roles=["creator"]))
    assert [s["score"] for s in r.json()["sides"]] == [7, 3]
    types = [
        t["event_type"]
        for t in await pools["gifting"].fetch(
            "SELECT event_type FROM events WHERE stream_id LIKE $1 ORDER BY position",
            f"battle-{battle}%",
        )
    ]
    assert types.count("BattleStarted") == 1 and types.count("BattleEnded") == 1
    assert types.count("BattleScored") == 2
    # once ended, its hosts may battle again
    r = await client.post("/v1/battles", json=again, headers=auth(prepared, b, roles=["creator"]))
    assert r.status_code == 201


async def test_a_battle_whose_time_is_up_is_ended_by_the_worker_once(client, prepared, pools):
    a, b = [await creator(client, prepared) for _ in range(2)]
    app = client._transport.app
    app.state.clock = lambda: datetime.now(UTC) - timedelta(minutes=10)  # started 10 min ago
    try:
        r = await client.post(
            "/v1/battles",
            json={"sides": [{"creator_id": a}, {"creator_id": b}], "duration_seconds": 60},
            headers=auth(prepared, a, roles=["creator"]),
        )
    finally:
        app.state.clock = lambda: datetime.now(UTC)
    battle = r.json()["battle_id"]
    assert await battles.end_due(pools["gifting"], datetime.now(UTC)) >= 1
    assert await battles.end_due(pools["gifting"], datetime.now(UTC)) == 0
    r = await client.get(f"/v1/battles/{battle}", headers=auth(prepared, a))
    assert r.json()["ended"] and r.json()["winner_side"] is None  # 0 - 0: no winner
    ended = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 AND event_type = 'BattleEnded'",
        f"battle-{battle}",
    )
    assert len(ended) == 1
    at = datetime.fromisoformat(ended[0]["envelope"]["data"]["ended_at"])
    assert (
        at == datetime.fromisoformat(r.json()["ends_at"]) < datetime.now(UTC) - timedelta(minutes=8)
    )
