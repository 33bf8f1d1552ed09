"""Read models on real PostgreSQL: every event counted once whatever the order, batching and
redelivery; the analyst role reads the views and nothing else."""

import random
import uuid

import asyncpg
import pytest

from eventkit.db import create_pool
from services.projections.projector import Incoming, Projector
from tests.support.synthetic import actual, differences, expected, generate


@pytest.fixture
async def fresh(namespace):
    """A namespace of its own per test: the oracle compares whole tables."""
    settings = await namespace(f"pj{uuid.uuid4().hex[:4]}")
    pool = await create_pool(settings.database_for("projections"))
    yield settings, pool
    await pool.close()


def incoming(messages, topic_of=lambda m: m.topic):
    return [Incoming(m.value(), m.key, topic_of(m), 0, i) for i, m in enumerate(messages)]


async def test_every_model_counts_every_event_once_whatever_the_order_and_batching(fresh):
    settings, pool = fresh
    messages = generate(2500, seed=11)
    batch = incoming(messages)
    rng = random.Random(11)
    rng.shuffle(batch)  # far worse than Kafka, which keeps each aggregate in order
    projector = Projector(pool)
    i = 0
    while i < len(batch):
        size = rng.randint(1, 400)
        await projector.apply(batch[i : i + size])
        if rng.random() < 0.3:  # a redelivery after a crash: must change nothing
            await projector.apply(batch[max(0, i - size) : i + size])
        i += size
    async with pool.acquire() as conn:
        got = await actual(conn)
    want = expected(messages)
    assert differences(want, got) == []
    assert sum(len(rows) for rows in want.values()) > 500  # the stream touched every model
    assert all(want.values())


async def test_the_oracle_notices_an_event_counted_twice(fresh):
    """The comparison above can fail: fold one gift a second time under a new id."""
    settings, pool = fresh
    messages = generate(300, seed=12)
    await Projector(pool).apply(incoming(messages))
    gift = next(m for m in messages if m.envelope.type == "GiftSent")
    twice = type(gift)(gift.topic, gift.envelope.model_copy(update={"id": uuid.uuid4()}))
    await Projector(pool).apply(incoming([twice]))
    async with pool.acquire() as conn:
        got = await actual(conn)
    found = differences(expected(messages), got)
    assert any(f.startswith("wallet_balances") for f in found), found
    assert any(
        f.startswith("stream_gifters") or f.startswith("platform_commission") for f in found
    ), found


async def test_analyst_role_reads_the_views_and_nothing_else(prepared):
    """A login role in coinstream_analyst: SELECT on analytics.* works; base tables, writes,
    DDL and temp tables are refused."""
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(prepared.admin_database_for("projections"))
    await admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' IN ROLE coinstream_analyst")
    dsn = f"postgresql://{name}:pw@{prepared.database_for('projections').split('@', 1)[1]}"
    conn = await asyncpg.connect(dsn)
    try:
        views = [
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.views WHERE table_schema = 'analytics'"
            )
        ]
        assert len(views) >= 15
        for view in views:
            await conn.fetch(f"SELECT * FROM analytics.{view} LIMIT 1")
        refused = [
            "SELECT * FROM public.wallet_balances",
            "SELECT * FROM projected_events",
            "SELECT * FROM public.purchases",
            "INSERT INTO analytics.wallet_balances (user_id) VALUES ('x')",
            "UPDATE analytics.creator_earnings SET diamonds_paid = 0",
            "DELETE FROM analytics.payouts",
            "CREATE TABLE public.mine (x int)",
            "CREATE TABLE analytics.mine (x int)",
            "CREATE TEMP TABLE mine (x int)",
            "CREATE VIEW analytics.mine AS SELECT 1",
        ]
        for sql in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()
        await admin.execute(f"DROP ROLE {name}")
        await admin.close()
