"""The projections worker as a real process on real Kafka and PostgreSQL: poison messages go to
the dead-letter topic and the next good event is still projected; the metrics endpoint reports
lag and the last event's time; a rebuild while the worker runs equals the live tables row for
row."""

import asyncio
import uuid

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventkit.codec import encode
from eventkit.db import create_pool
from schemas import topics
from schemas.headers import CONTENT_TYPE, STRUCTURED_CONTENT_TYPE
from scripts.projections_crash import WorkerProcess, drop_faust_topics, wait_caught_up
from services.projections.rebuild import rebuild
from tests.support.kafka import read_topic
from tests.support.synthetic import (
    actual,
    differences,
    expected,
    generate,
    publish,
    snapshot,
)
from tests.support.wallets import coin_purchased


@pytest.fixture
async def live(namespace):
    settings = await namespace(f"lw{uuid.uuid4().hex[:4]}")
    worker = WorkerProcess(settings)
    worker.start()
    pool = await create_pool(settings.database_for("projections"))
    yield settings, worker, pool
    worker.kill()
    await pool.close()
    await drop_faust_topics(settings)


def aggregate_key(value: bytes) -> bytes:
    """The key a publisher gives `value`: its aggregateid (garbage gets a made-up one)."""
    try:
        return orjson.loads(value)["aggregateid"].encode()
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return b"poison"


async def send_raw(
    settings, topic: str, values: list[bytes], keys: list[bytes] | None = None, headers=None
) -> None:
    """Sends the values signed by the topic's owner, keyed by their aggregate (or `keys`), all
    to partition 0, so the worker meets them in this order."""
    from eventkit.kafka import producer
    from eventkit.signing import owner_headers

    out = producer(settings, topics.OWNER[topic])
    await out.start()
    try:
        for i, value in enumerate(values):
            key = keys[i] if keys else aggregate_key(value)
            signed = owner_headers(settings, topic, value, key)
            if headers and headers[i] is not None:  # the binding's headers replaced
                signed = signed[:2] + headers[i]
            await (
                await out.send(settings.topic(topic), value, key=key, partition=0, headers=signed)
            )
    finally:
        await out.stop()


async def eventually(check, timeout: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (got := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return got


async def test_poison_is_dead_lettered_and_the_next_good_event_projected(live):
    settings, worker, pool = live
    user = f"fan-{uuid.uuid4().hex[:8]}"
    good, payload = coin_purchased(user, 70)
    doc = orjson.loads(encode(good))
    unknown_type = {**doc, "id": str(uuid.uuid4()), "type": "CoinsMinted"}
    unknown_version = {**doc, "id": str(uuid.uuid4()), "dataversion": 99}
    bad_payload = {**doc, "id": str(uuid.uuid4()), "data": {**doc["data"], "coins": -5}}
    poison = [
        b"\x00not json",
        orjson.dumps(unknown_type),
        orjson.dumps(unknown_version),
        orjson.dumps(bad_payload),
        b"",
    ]
    # Valid events whose CloudEvents binding alone is wrong (the signature is right).
    structured = (CONTENT_TYPE, STRUCTURED_CONTENT_TYPE.encode())
    ce = [("ce_id", doc["id"].encode()), ("ce_type", b"CoinPurchased")]
    binding = {  # value -> (its key, its headers besides the signature)
        orjson.dumps(doc["data"]): (good.aggregateid.encode(), ce),  # binary mode
        orjson.dumps({**doc, "id": str(uuid.uuid4())}): (
            good.aggregateid.encode(),
            [(CONTENT_TYPE, b"application/json")],
        ),
        orjson.dumps({**doc, "id": str(uuid.uuid4())}): (
            good.aggregateid.encode(),
            [structured, ("ce_type", b"GiftSent")],
        ),
        orjson.dumps({**doc, "id": str(uuid.uuid4())}): (b"elsewhere", [structured]),
    }
    before_binding, _ = coin_purchased(user, 30)  # no content-type: published before the binding
    values = [*poison, *binding, encode(before_binding), encode(good)]
    keys = [aggregate_key(v) for v in poison] + [k for k, _ in binding.values()]
    keys += [before_binding.aggregateid.encode(), good.aggregateid.encode()]
    headers = [None] * len(poison) + [h for _, h in binding.values()] + [[], None]
    # All on one partition, so the good events come after every poison message.
    await send_raw(settings, topics.RECHARGE_EVENTS, values, keys, headers)
    poison += list(binding)

    row = await eventually(
        lambda: pool.fetchrow(
            "SELECT purchased, balance, events FROM wallet_balances WHERE user_id = $1"
            " AND events = 2",
            user,
        )
    )
    assert dict(row) == {"purchased": 100, "balance": 100, "events": 2}

    dead = await read_topic(settings, topics.DEAD_LETTER, expect=len(poison))
    reasons = sorted(dict(r.headers)["reason"].decode() for r in dead)
    assert len(dead) == len(poison), reasons
    assert all(dict(r.headers)["consumer"] == b"projections" for r in dead)
    assert all(
        dict(r.headers)["topic"] == settings.topic(topics.RECHARGE_EVENTS).encode() for r in dead
    )
    assert [r.split(":")[0] for r in reasons] == [
        "bad CoinPurchased v1 payload",
        "binding",
        "binding",
        "binding",
        "binding",
        "empty message",
        "not JSON",
        "unknown event type/version",
        "unknown event type/version",
    ]
    starts = (
        "binding: binary content mode",
        "binding: content-type 'application/json' is not",
        "binding: header ce_type='GiftSent' does not match",
        "binding: the Kafka key 'elsewhere' is not",
    )
    bound = [r for r in reasons if r.startswith("binding")]
    assert all(r.startswith(s) for r, s in zip(bound, starts, strict=True)), bound
    assert any("CoinsMinted v1" in r for r in reasons) and any("v99" in r for r in reasons)

    async def metrics():
        async with httpx.AsyncClient() as http:
            try:
                text = (await http.get(worker.metrics_url)).text
            except httpx.HTTPError:
                return None
        return text if "consumer_lag_total 0" in text else None

    text = await eventually(metrics)
    assert "coinstream_projections_dead_lettered_total 9" in text
    assert "coinstream_projections_last_event_time_seconds" in text
    lagging = {
        sample.labels["topic"]
        for family in text_string_to_metric_families(text)
        if family.name == "coinstream_projections_consumer_lag"
        for sample in family.samples
    }
    assert settings.topic(topics.RECHARGE_EVENTS) in lagging

    # The freshness row is written by the lag monitor on its own tick, after the metrics.
    async def caught_up() -> bool:
        return await pool.fetchval("SELECT lag_events FROM analytics.freshness") == 0

    assert await eventually(caught_up, timeout=30)


async def test_rebuild_while_the_worker_runs_equals_live_row_for_row(live):
    settings, worker, pool = live
    first = generate(3000, seed=31)
    await publish(settings, first)
    async with pool.acquire() as conn:
        await wait_caught_up(settings, conn)
    live_tables = await snapshot(pool)
    # The synthetic stream generates every read model's events (promotions, bonus lots and
    # partners included), so every table must have rows for the comparisons to mean anything.
    assert all(rows for rows in live_tables.values()), [
        t for t, rows in live_tables.items() if not rows
    ]

    report = await rebuild(settings)
    assert report.events == len({m.envelope.id for m in first})
    assert await snapshot(pool) == live_tables

    # Now rebuild some models while the worker keeps projecting new events.
    second = generate(3000, seed=32)

    async def trickle():
        for i in range(0, len(second), 150):
            await publish(settings, second[i : i + 150])
            await asyncio.sleep(0.05)

    producing = asyncio.create_task(trickle())
    await asyncio.sleep(0.3)
    await rebuild(settings, ["wallet_balances", "leaderboards", "purchases"], batch_size=500)
    await producing
    async with pool.acquire() as conn:
        await wait_caught_up(settings, conn)
        assert differences(expected(first + second), await actual(conn)) == []
    settled = await snapshot(pool)
    await rebuild(settings)
    assert await snapshot(pool) == settled

    # The swap re-created the analysts' views and their grants.
    # (pg_class, not information_schema: that shows only grants the login role takes part in)
    granted, views = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE has_table_privilege('coinstream_analyst', c.oid, 'SELECT')),"
        " count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'analytics' AND c.relkind = 'v'"
    )
    assert granted == views >= 15
