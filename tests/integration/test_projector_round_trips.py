"""What a projector batch costs the database: a fixed number of statements whatever the batch
holds (upsert.write_together), with the same rows as table-by-table writes; and the live
worker's checks (signatures.signed_decoded) refuse what signed_only refuses, with the same
reasons, while handing the projector the envelope they parsed."""

import uuid

import pytest

from eventkit import signing
from eventkit.db import create_pool
from schemas import topics
from services.projections.projector import Incoming, Projector, decode_batch
from services.projections.read_models import READ_MODELS, ReadModel
from services.projections.signatures import signed_decoded, signed_only
from services.projections.upsert import write_together
from tests.support.synthetic import actual, differences, expected, generate


@pytest.fixture
async def fresh(namespace):
    settings = await namespace(f"rt{uuid.uuid4().hex[:4]}")
    pool = await create_pool(settings.database_for("projections"), min_size=1, max_size=1)
    yield settings, pool
    await pool.close()


def incoming(messages, start: int = 0):
    return [Incoming(m.value(), m.key, m.topic, 0, start + i) for i, m in enumerate(messages)]


class Statements:
    """The statements a connection sends (asyncpg's query logger), BEGIN/COMMIT included."""

    def __init__(self):
        self.sent: list[str] = []

    def __call__(self, record) -> None:
        self.sent.append(record.query)


async def test_a_batch_of_every_kind_of_event_is_two_statements_and_the_same_rows(fresh):
    settings, pool = fresh
    messages = generate(1500, seed=21)
    log = Statements()
    async with pool.acquire() as conn:
        conn.add_query_logger(log)
    await Projector(pool).apply(incoming(messages))
    async with pool.acquire() as conn:
        conn.remove_query_logger(log)
        got = await actual(conn)
    assert differences(expected(messages), got) == []
    # Only our statements (asyncpg also sends its type introspection the first time).
    work = [q for q in log.sent if "INSERT INTO" in q]
    # One records the ids and moves the positions, one writes every read model's rows (was one
    # statement per table: 16 for this batch).
    assert len(work) == 2, work


async def test_a_redelivered_batch_is_one_statement_and_changes_nothing(fresh):
    settings, pool = fresh
    messages = generate(300, seed=22)
    projector = Projector(pool)
    await projector.apply(incoming(messages))
    log = Statements()
    async with pool.acquire() as conn:
        conn.add_query_logger(log)
        before = await actual(conn)
    await projector.apply(incoming(messages))
    async with pool.acquire() as conn:
        conn.remove_query_logger(log)
        assert await actual(conn) == before
    assert len([q for q in log.sent if "INSERT INTO projected_events" in q]) == 1
    assert not [q for q in log.sent if "INSERT INTO wallet_balances" in q]


async def test_two_rows_of_one_table_in_one_batch_both_count(fresh):
    # PostgreSQL keeps one of two changes to a row within one statement: a model whose fold
    # gives two Rows of one table must not lose one when the batch is written together.
    settings, pool = fresh
    base = READ_MODELS["wallet_balances"]
    twice = ReadModel("twice", base.tables, lambda facts: base.fold(facts) + base.fold(facts))
    facts = list(decode_batch(incoming(generate(200, seed=23))).facts.values())
    async with pool.acquire() as conn:
        async with conn.transaction():
            await write_together(conn, twice.fold(facts))
        doubled = {
            r["user_id"]: r["balance"] for r in await conn.fetch("SELECT * FROM wallet_balances")
        }
    want = {k[0]: v["balance"] for k, v in base.fold(facts)[0].rows.items()}
    assert doubled == {user: 2 * balance for user, balance in want.items()}


def _variants(settings):
    """Messages on the gifting topic, each checked by both paths: good, a key that is not the
    aggregateid, a ce_* header that contradicts the document, the same with an invalid
    envelope, and a value that is not JSON."""
    gift = next(
        m
        for m in generate(60, seed=24)
        if m.topic == topics.GIFTING_EVENTS and m.envelope.type == "GiftSent"
    )
    good = gift.value()
    broken = good.replace(b'"specversion":"1.0"', b'"specversion":"9"')
    assert broken != good
    cases = [
        (gift.key, good, []),
        (b"someone-else", good, []),
        (gift.key, good, [("ce_type", b"CoinPurchased")]),
        (gift.key, good, [("ce_id", str(gift.envelope.id).encode())]),
        (b"someone-else", broken, []),
        (gift.key, broken, [("ce_type", b"CoinPurchased")]),
        (gift.key, b"not json", []),
    ]
    out = []
    for i, (key, value, extra) in enumerate(cases):
        signed = signing.owner_headers(settings, topics.GIFTING_EVENTS, value, key) + extra
        topic = settings.topic(topics.GIFTING_EVENTS)
        out.append((Incoming(value, key, topic, 0, i), signed))
    return out


async def test_signed_decoded_refuses_what_signed_only_refuses_with_the_same_reasons(fresh):
    settings, _ = fresh
    verifier = signing.Verifier(settings)
    batch = _variants(settings)
    good_a, refused_a = signed_only(verifier, batch)
    good_b, refused_b = signed_decoded(verifier, batch)
    assert [(m.offset, r) for m, r in refused_a] == [(m.offset, r) for m, r in refused_b]
    assert [m.offset for m in good_a] == [m.offset for m in good_b]
    assert {m.offset for m, _ in refused_a} >= {1, 2, 4, 5}, refused_a
    # The good gift carries its parsed envelope; the broken envelope carries none and is left
    # for the projector to dead-letter with the decoder's reason.
    parsed = {m.offset: m.envelope for m in good_b}
    assert parsed[0] is not None and parsed[0].type == "GiftSent"
    assert parsed[6] is None
