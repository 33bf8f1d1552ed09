"""payout-consumer folds a run of gifts and unlocks with set-based statements (credit_many);
the result must be exactly what applying them one by one gives: the same creator figures, the
same DiamondsCredited sequence, each event credited once (redeliveries inside the run too)."""

import uuid

from eventkit.consumer import IdempotentConsumer
from schemas import topics
from schemas.registry import payload_model
from services.payout.handlers import BATCH_HANDLERS, HANDLERS, on_earnings
from tests.support.creators import content_unlocked, gift_sent, record

COINS = [1, 7, 30, 999, 3, 50, 12, 1, 1, 250]


def storm(hot: str, other: str) -> list:
    events = [
        gift_sent(hot if i % 3 else other, coins, stream=f"s-{hot}")
        for i, coins in enumerate(COINS)
    ]
    events.insert(4, content_unlocked(hot, 40))
    events.insert(6, content_unlocked("platform", 40))  # earns nobody
    events.insert(8, events[2])  # a redelivery inside the run
    return events


async def run(settings, pool, events, batch: bool):
    consumer = IdempotentConsumer(
        settings,
        pool,
        "test-payout",
        [topics.GIFTING_EVENTS],
        HANDLERS,
        BATCH_HANDLERS if batch else None,
        principal="payout",
    )
    return await consumer.apply([record(e, offset=i) for i, e in enumerate(events)])


async def credit_together(pool, events):
    """The batch handler itself, with no consumer around it to fall back to one by one."""
    unique = list({e.id: e for e in events}.values())
    async with pool.acquire() as conn, conn.transaction():
        await on_earnings(
            conn, [(e, payload_model(e.type, e.dataversion).model_validate(e.data)) for e in unique]
        )


async def figures(pool, creator: str):
    row = await pool.fetchrow(
        "SELECT earned, held, version FROM creators WHERE creator_id = $1", creator
    )
    events = await pool.fetch(
        "SELECT version, envelope FROM events WHERE stream_id = $1 ORDER BY version",
        f"creator-{creator}",
    )
    credited = [
        {
            k: v
            for k, v in e["envelope"]["data"].items()
            if k not in ("creator_id", "gift_event_id", "gift_id", "stream_id", "release_at")
        }
        for e in events
    ]
    return tuple(row), [e["version"] for e in events], credited


async def test_a_run_credited_together_equals_one_by_one(prepared, pools):
    pool = pools["payout"]
    tag = uuid.uuid4().hex[:6]
    together = (f"hot-b-{tag}", f"oth-b-{tag}")
    alone = (f"hot-s-{tag}", f"oth-s-{tag}")
    await credit_together(pool, storm(*together))
    assert await run(prepared, pool, storm(*alone), batch=False) == []
    for batched, single in zip(together, alone, strict=True):
        assert await figures(pool, batched) == await figures(pool, single)
    row, versions, credited = await figures(pool, together[0])
    assert versions == list(range(1, len(versions) + 1))
    assert row[0] == sum(c for i, c in enumerate(COINS) if i % 3) + 40
    assert [c["earned_after"] for c in credited] == [
        sum(c["diamonds"] for c in credited[: n + 1]) for n in range(len(credited))
    ]


async def test_the_consumer_takes_the_batch_path(prepared, pools, caplog):
    tag = uuid.uuid4().hex[:6]
    assert (
        await run(prepared, pools["payout"], storm(f"hot-c-{tag}", f"oth-c-{tag}"), batch=True)
        == []
    )
    assert "one by one" not in caplog.text


async def test_redelivering_the_whole_run_credits_nothing_twice(prepared, pools):
    pool = pools["payout"]
    tag = uuid.uuid4().hex[:6]
    events = storm(f"hot-r-{tag}", f"oth-r-{tag}")
    await run(prepared, pool, events, batch=True)
    first = await figures(pool, f"hot-r-{tag}")
    await run(prepared, pool, events, batch=True)
    assert await figures(pool, f"hot-r-{tag}") == first
