"""The read API in-process on real PostgreSQL: each caller sees only their own wallet and
earnings, creators only with the creator role, leaderboards ranked, freshness in every answer."""

import uuid

from eventkit.auth import mint_token
from services.projections.api import create
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client
from tests.support.creators import envelope, gift_sent
from tests.support.wallets import coin_purchased


def bearer(settings, user: str, roles=None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, user, roles or ['fan'])}"}


async def project(pool, *envelopes) -> None:
    from eventkit.codec import encode

    await Projector(pool).apply(
        [Incoming(encode(e), b"k", "t", 0, i) for i, e in enumerate(envelopes)]
    )


def gift(sender: str, creator: str, stream: str, coins: int, combo: str | None = None):
    env = gift_sent(creator, coins, stream=stream)
    data = {**env.data, "sender_id": sender, "combo_id": combo}
    return env.model_copy(update={"data": data})


async def test_fans_see_their_own_wallet_and_statement_with_freshness(prepared, pools):
    fan, other = f"fan-{uuid.uuid4().hex[:6]}", f"fan-{uuid.uuid4().hex[:6]}"
    stream = f"stream-{uuid.uuid4().hex[:6]}"
    await project(
        pools["projections"],
        coin_purchased(fan, 500)[0],
        coin_purchased(other, 9)[0],
        gift(fan, "creator-z", stream, 120),
    )
    async with api_client(create, prepared) as http:
        assert (await http.get("/v1/wallet")).status_code == 401
        r = await http.get("/v1/wallet", headers=bearer(prepared, fan))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["user_id"], body["balance"], body["purchased"], body["gifted"]) == (
            fan,
            380,
            500,
            120,
        )
        assert body["freshness"]["last_event_time"] is not None
        assert body["freshness"]["age_seconds"] >= 0

        r = await http.get("/v1/wallet/statement", headers=bearer(prepared, fan))
        lines = r.json()["lines"]
        assert sorted((x["kind"], x["coins"]) for x in lines) == [("gift", -120), ("purchase", 500)]
        r = await http.get("/v1/wallet/statement", headers=bearer(prepared, other))
        assert [x["coins"] for x in r.json()["lines"]] == [9]
        r = await http.get("/v1/wallet", headers=bearer(prepared, "nobody-yet"))
        assert r.json()["balance"] == 0


async def test_creators_see_their_own_earnings_only_with_the_creator_role(prepared, pools):
    from schemas.events.payout import DiamondsCredited

    creator = f"creator-{uuid.uuid4().hex[:6]}"
    credited = envelope(
        DiamondsCredited(
            creator_id=creator,
            gift_event_id=str(uuid.uuid4()),
            gift_id="g1",
            stream_id="s-1",
            coins=100,
            diamonds_per_coin="0.5",
            reserve_percent="10",
            diamonds=50,
            held=5,
            earned_after=50,
        ),
        f"creator-{creator}",
    )
    await project(pools["projections"], credited)
    async with api_client(create, prepared) as http:
        r = await http.get("/v1/earnings", headers=bearer(prepared, creator))
        assert r.status_code == 403
        r = await http.get("/v1/earnings", headers=bearer(prepared, creator, ["creator"]))
        body = r.json()
        assert (body["diamonds_earned"], body["diamonds_held"], body["diamonds_available"]) == (
            50,
            5,
            45,
        )
        assert body["streams"] == [{"stream_id": "s-1", "credits": 1, "coins": 100, "diamonds": 50}]
        assert [d["diamonds_earned"] for d in body["days"]] == [50]
        r = await http.get("/v1/earnings", headers=bearer(prepared, "someone", ["creator"]))
        assert r.json()["diamonds_earned"] == 0


async def test_stream_leaderboard_ranks_gifters_and_combos(prepared, pools):
    stream = f"stream-{uuid.uuid4().hex[:6]}"
    await project(
        pools["projections"],
        gift("fan-a", "c", stream, 10),
        gift("fan-b", "c", stream, 30, combo="k1"),
        gift("fan-b", "c", stream, 30, combo="k1"),
        gift("fan-c", "c", stream, 5),
        gift("fan-a", "c", stream, 15),
    )
    async with api_client(create, prepared) as http:
        assert (await http.get(f"/v1/streams/{stream}/leaderboard")).status_code == 401
        r = await http.get(
            f"/v1/streams/{stream}/leaderboard?limit=2", headers=bearer(prepared, "viewer")
        )
        body = r.json()
        assert [(g["rank"], g["sender_id"], g["coins"]) for g in body["gifters"]] == [
            (1, "fan-b", 60),
            (2, "fan-a", 25),
        ]
        assert [(c["combo_id"], c["gifts"], c["coins"]) for c in body["combos"]] == [("k1", 2, 60)]
        assert "last_event_time" in body["freshness"]
