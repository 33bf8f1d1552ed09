"""The projections worker (a real process) and the rebuild against events PostgreSQL refuses
for good: on each topic a read model folds, a pill mid-batch (good events before and after it on
the same partition) is dead-lettered with the database's reason, the good ones are projected,
the lag returns to 0, and a rebuild skips the same pill and equals the live tables."""

import uuid
from decimal import Decimal

import httpx

from eventkit.codec import encode, new_envelope
from schemas import topics
from schemas.events.payout import DiamondsCredited
from services.projections.rebuild import rebuild
from tests.integration.test_projections_worker import eventually, send_raw
from tests.integration.test_projections_worker import live as live  # noqa: F401 - the fixture
from tests.support.creators import gift_sent
from tests.support.kafka import read_topic
from tests.support.wallets import coin_purchased

BEYOND_BIGINT = 2**63


def credited(creator: str, diamonds: int):
    return new_envelope(
        "/test",
        DiamondsCredited(
            creator_id=creator,
            gift_event_id=str(uuid.uuid4()),
            gift_id=str(uuid.uuid4()),
            coins=diamonds,
            diamonds_per_coin=Decimal(1),
            reserve_percent=Decimal(0),
            diamonds=diamonds,
            held=0,
            earned_after=diamonds,
        ),
        aggregate_id=f"creator-{creator}",
        aggregate_version=1,
    )


async def test_a_pill_postgresql_refuses_is_dead_lettered_and_the_rest_projected(live):  # noqa: F811
    settings, worker, pool = live
    fan, creator = f"fan-{uuid.uuid4().hex[:8]}", f"cr-{uuid.uuid4().hex[:8]}"
    cases = {  # topic -> (good before, pill, good after)
        topics.RECHARGE_EVENTS: (
            coin_purchased(fan, 70)[0],
            coin_purchased(f"fan-{uuid.uuid4().hex[:8]}", BEYOND_BIGINT)[0],
            coin_purchased(fan, 30)[0],
        ),
        topics.GIFTING_EVENTS: (
            gift_sent(creator, 5),
            gift_sent(creator, BEYOND_BIGINT),
            gift_sent(creator, 6),
        ),
        topics.PAYOUT_EVENTS: (
            credited(creator, 7),
            credited(creator, BEYOND_BIGINT),
            credited(creator, 8),
        ),
    }
    for topic, events in cases.items():
        await send_raw(settings, topic, [encode(e) for e in events])  # one partition, in order

    async def metrics():
        async with httpx.AsyncClient() as http:
            try:
                text = (await http.get(worker.metrics_url)).text
            except httpx.HTTPError:
                return None
        return (
            text
            if "consumer_lag_total 0" in text
            and "coinstream_projections_dead_lettered_total 3" in text
            else None
        )

    await eventually(metrics, timeout=90)
    projected = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM projected_events")}
    for before, pill, after in cases.values():
        assert before.id in projected and after.id in projected and pill.id not in projected
    assert (
        await pool.fetchval("SELECT purchased FROM wallet_balances WHERE user_id = $1", fan) == 100
    )

    dead = await read_topic(settings, topics.DEAD_LETTER, expect=3)
    assert sorted(r.value for r in dead) == sorted(encode(p) for _, p, _ in cases.values())
    for r in dead:
        headers = dict(r.headers)
        assert headers["reason"].startswith(b"cannot apply: "), headers["reason"]
        assert headers["consumer"] == b"projections"
    assert await pool.fetchval("SELECT lag_events FROM analytics.freshness") == 0

    async def rows():
        return [
            dict(r)
            for r in await pool.fetch("SELECT * FROM wallet_balances WHERE user_id = $1", fan)
        ] + [
            dict(r)
            for r in await pool.fetch(
                "SELECT * FROM creator_earnings WHERE creator_id = $1", creator
            )
        ]

    live_rows = await rows()
    report = await rebuild(settings)  # replays every pill: each is skipped again
    assert report.messages >= 9
    assert await rows() == live_rows
