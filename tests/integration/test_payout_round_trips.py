"""What a storm's batch costs payout-consumer's database: a fixed number of round trips
whatever the run's size, and a run refused as a whole still ends with every good event
credited and the bad one dead-lettered."""

import uuid

from eventkit.consumer import IdempotentConsumer
from eventkit.db import create_pool
from schemas import topics
from services.payout.handlers import BATCH_HANDLERS, HANDLERS
from tests.support.creators import gift_sent, record


def consumer(settings, pool) -> IdempotentConsumer:
    return IdempotentConsumer(
        settings,
        pool,
        "test-payout",
        [topics.GIFTING_EVENTS],
        HANDLERS,
        BATCH_HANDLERS,
        principal="payout",
    )


async def test_a_batch_of_gifts_is_seven_round_trips_whatever_its_size(prepared):
    pool = await create_pool(prepared.database_for("payout"), min_size=1, max_size=1)
    sent: list[str] = []
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda r: sent.append(r.query))
        tag = uuid.uuid4().hex[:6]
        for size in (5, 60):
            sent.clear()
            gifts = [gift_sent(f"c{i % 7}-{tag}", 3) for i in range(size)]
            poison = await consumer(prepared, pool).apply(
                [record(g, offset=i) for i, g in enumerate(gifts)]
            )
            assert poison == []
            # asyncpg's own type introspection and JIT set-up are not ours.
            ours = [q for q in sent if "pg_catalog" not in q and "'jit'" not in q]
            # BEGIN, processed ids, credits, new creators, lock creators, creators + events +
            # outbox (one statement), COMMIT; was 11 (a savepoint pair, and the creators
            # update, the events and the outbox each on their own).
            assert len(ours) == 7, ours
        rows = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE key LIKE $1", f"creator-c%-{tag}"
        )
        assert rows == 65
    finally:
        await pool.close()
