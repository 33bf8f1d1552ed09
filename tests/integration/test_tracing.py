"""One gift, and one purchase, followed by OpenTelemetry (eventkit.tracing) into an in-memory exporter: the
HTTP request, its transaction, the outbox row's stored traceparent, the relay's produce span
and the consumer's process span (with its own database spans) share one trace id; for the gift,
so do the projections worker's receive and project spans (with the fold's statements). The
tree is printed (pytest -s shows it). Tracing is turned off again afterwards, so the rest of the
session runs untraced as production does by default."""

import uuid

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from eventkit import tracing
from eventkit.consumer import IdempotentConsumer
from eventkit.db import create_pool
from eventkit.outbox import OutboxRelay
from schemas import topics
from services.gifting.api import create as create_gifting
from services.gifting.handlers import HANDLERS as GIFTING_HANDLERS
from services.payout.handlers import BATCH_HANDLERS as PAYOUT_BATCH
from services.payout.handlers import HANDLERS as PAYOUT_HANDLERS
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client, auth, new_id
from tests.support.kafka import read_topic
from tests.support.recharge import recharge_app, settle
from tests.support.wallets import fund_wallet


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.enable("coinstream-test", exporter)
    try:
        yield exporter
    finally:
        tracing.disable()


def tree(spans, trace_id: int) -> str:
    mine = [s for s in spans if s.context.trace_id == trace_id]
    children: dict = {}
    for s in mine:
        children.setdefault(s.parent.span_id if s.parent else None, []).append(s)
    lines: list[str] = []

    def walk(parent, depth):
        for s in sorted(children.get(parent, []), key=lambda s: s.start_time):
            lines.append(f"{'  ' * depth}{s.name} [{s.kind.name.lower()}]")
            walk(s.context.span_id, depth + 1)

    known = {s.context.span_id for s in mine}
    for root in {s.parent.span_id if s.parent else None for s in mine} - known:
        walk(root, 0)
    return f"trace {trace_id:032x}\n" + "\n".join(lines)


async def test_one_purchase_is_one_trace_from_http_to_the_consumer(namespace, spans):
    settings = await namespace("trace")
    fan = new_id("fan")
    async with recharge_app(settings) as rc:
        r = await rc.client.post(
            "/v1/purchases",
            json={"bundle_id": "coins_70", "channel": "web"},
            headers=auth(settings, fan),
        )
        assert r.status_code == 202, r.text
        purchase = r.json()["purchase_id"]
        await settle(rc)  # the sandbox's signed webhook confirms it: CoinPurchased
        stored = await rc.pools["recharge"].fetch(
            "SELECT o.traceparent, e.event_type FROM outbox o JOIN events e USING (event_id)"
            " WHERE o.key = $1 ORDER BY o.id",
            f"purchase-{purchase}",
        )
        assert [r["event_type"] for r in stored] == ["PurchaseCreated", "CoinPurchased"]
        assert all(r["traceparent"] for r in stored), stored

        relay = OutboxRelay(settings, settings.database_for("recharge"), principal="recharge")
        await relay.start()
        try:
            while await relay.relay_once():
                pass
        finally:
            await relay.stop()
        records = [
            r
            for r in await read_topic(settings, topics.RECHARGE_EVENTS, expect=2)
            if r.key == f"purchase-{purchase}".encode()
        ]
        consumer = IdempotentConsumer(
            settings,
            rc.pools["gifting"],
            f"trace-{uuid.uuid4().hex[:6]}",
            [],
            GIFTING_HANDLERS,
            principal="gifting",
        )
        assert await consumer.apply(records) == []

    coin = stored[1]["traceparent"]
    headers = dict(next(r for r in records if r.offset == max(x.offset for x in records)).headers)
    assert headers[tracing.CE_TRACEPARENT].decode() == coin  # the extension: where it was made
    trace_id = int(coin.split("-")[1], 16)
    finished = spans.get_finished_spans()
    joined = [s for s in finished if s.context.trace_id == trace_id]
    kinds = {(s.kind, s.name.split(" ")[0]) for s in joined}
    names = {s.kind: s.name for s in joined}
    print("\n" + tree(finished, trace_id))
    assert any(k == SpanKind.SERVER for k, _ in kinds), kinds  # the HTTP request
    assert any(k == SpanKind.CLIENT for k, _ in kinds), kinds  # its database statements
    assert "send" in names.get(SpanKind.PRODUCER, ""), kinds  # the relay's produce
    assert (SpanKind.CONSUMER, "process") in kinds, kinds  # the consumer applying it
    process = next(s for s in joined if s.name.startswith("process"))
    below = [s for s in joined if s.parent and s.parent.span_id == process.context.span_id]
    assert any(s.kind == SpanKind.CLIENT for s in below), "the consumer's own DB spans"


def assert_joined(finished, trace_id: int) -> list:
    """HTTP, database, produce and consume spans under `trace_id`; the consumer's process span
    has database spans of its own below it. Returns the trace's spans."""
    joined = [s for s in finished if s.context.trace_id == trace_id]
    kinds = {s.kind for s in joined}
    names = " | ".join(s.name for s in joined)
    assert {SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER} <= kinds, names
    process = next(s for s in joined if s.name.startswith("process"))
    below = [s for s in joined if s.parent and s.parent.span_id == process.context.span_id]
    assert any(s.kind == SpanKind.CLIENT for s in below), "the consumer's own DB spans"
    return joined


async def test_one_gift_is_one_trace_from_http_through_group_commit_to_payout(namespace, spans):
    settings = await namespace("tracegift")
    fan, creator = new_id("fan"), new_id("star")
    async with api_client(create_gifting, settings) as gifting:
        r = await gifting.get("/v1/wallet", headers=auth(settings, creator, roles=["creator"]))
        assert r.status_code == 200, r.text
        pool = await create_pool(settings.database_for("gifting"), max_size=2)
        try:
            await fund_wallet(pool, fan, 100)
            body = {
                "creator_id": creator,
                "context": {"kind": "live", "id": new_id("live")},
                "gift_code": "rose",
                "quantity": 1,
            }
            r = await gifting.post("/v1/gifts", json=body, headers=auth(settings, fan))
            assert r.status_code == 201, r.text
            row = await pool.fetchrow(
                "SELECT event_id, traceparent FROM outbox WHERE key = $1", f"wallet-{fan}"
            )
        finally:
            await pool.close()
    assert row["traceparent"], "the group commit wrote the request's traceparent with the row"

    relay = OutboxRelay(settings, settings.database_for("gifting"), principal="gifting")
    await relay.start()
    try:
        while await relay.relay_once():
            pass
    finally:
        await relay.stop()
    records = [
        r
        for r in await read_topic(settings, topics.GIFTING_EVENTS, expect=1)
        if r.key == f"wallet-{fan}".encode()
    ]
    payout = await create_pool(settings.database_for("payout"), max_size=2)
    try:
        consumer = IdempotentConsumer(
            settings, payout, "trace-gift", [], PAYOUT_HANDLERS, PAYOUT_BATCH, principal="payout"
        )
        assert await consumer.apply(records) == []
    finally:
        await payout.close()
    # The projections worker's batch, as its agent wraps it (services/projections/worker.py).
    projections = await create_pool(settings.database_for("projections"), max_size=2)
    try:
        with tracing.projecting([(r.topic, r.headers) for r in records]):
            batch = [Incoming(r.value, r.key, r.topic, r.partition, r.offset) for r in records]
            assert await Projector(projections).apply(batch) == []
    finally:
        await projections.close()

    trace_id = int(row["traceparent"].split("-")[1], 16)
    finished = spans.get_finished_spans()
    print("\n" + tree(finished, trace_id))
    joined = assert_joined(finished, trace_id)
    assert any(s.name == "group commit" for s in joined), "the batch's own span and statements"
    # payout-consumer's process span and the projector's receive + project spans, one trace
    assert any(s.name.startswith("process ") for s in joined), "payout-consumer"
    receive = next(
        s for s in joined if s.name.startswith("receive ") and s.kind == SpanKind.CONSUMER
    )
    project = next(s for s in joined if s.name == "project")
    assert project.parent.span_id == receive.context.span_id
    below = [s for s in joined if s.parent and s.parent.span_id == project.context.span_id]
    assert any(s.kind == SpanKind.CLIENT for s in below), "the fold's own statements"
