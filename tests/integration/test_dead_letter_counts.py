"""Dead letters counted by reason (services/projections/dead_letters.py): the projections worker,
as a real process, reads the dead-letter topic and counts what it holds by consumer, source
topic and reason class, its own dead letters and the services' alike, once per refused source
message across a SIGKILL and restart (the restarted worker dead-letters its uncommitted poison
again); a redelivered batch is not counted twice."""

import uuid
from datetime import UTC, datetime

import pytest

from eventkit.db import create_pool
from eventkit.deadletter import dead_letter_headers
from eventkit.kafka import producer
from schemas import topics
from scripts.projections_crash import WorkerProcess, drop_faust_topics
from services.projections.dead_letters import DeadLetter, reason_class, record, source
from tests.integration.test_projections_worker import eventually, send_raw


async def counts(pool) -> dict[tuple[str, str, str], int]:
    rows = await pool.fetch("SELECT consumer, topic, reason, messages FROM dead_letter_counts")
    return {(r["consumer"], r["topic"], r["reason"]): r["messages"] for r in rows}


async def dead_letter(settings, reason: bytes, consumer: str, source: str) -> None:
    """What a service's consumer writes when it refuses a message (eventkit.consumer)."""
    out = producer(settings, consumer)
    await out.start()
    try:
        headers = dead_letter_headers("", settings.topic(source), 1, 7, consumer)
        headers[0] = ("reason", reason)  # raw bytes: not UTF-8, a NUL, whatever was written
        await out.send_and_wait(
            settings.topic(topics.DEAD_LETTER), b"\x00garbage", key=b"k", headers=headers
        )
    finally:
        await out.stop()


@pytest.fixture
async def live(namespace):
    settings = await namespace(f"dl{uuid.uuid4().hex[:4]}")
    worker = WorkerProcess(settings)
    worker.start()
    pool = await create_pool(settings.database_for("projections"))
    yield settings, worker, pool
    worker.kill()
    await pool.close()
    await drop_faust_topics(settings)


async def test_the_worker_counts_every_dead_letter_by_reason_once(live):
    settings, worker, pool = live
    recharge = settings.topic(topics.RECHARGE_EVENTS)
    # the worker's own: two messages that are not JSON, one empty
    await send_raw(settings, topics.RECHARGE_EVENTS, [b"{nope", b"[1,", b""], [b"a", b"b", b"c"])
    # a service's: payout-consumer refused a gift (raw header bytes, as anyone may write them)
    await dead_letter(
        settings, b"cannot apply: DataError [22003]: \xff\x00big", "payout", topics.GIFTING_EVENTS
    )
    gifting = settings.topic(topics.GIFTING_EVENTS)
    expected = {
        ("projections", recharge, "not JSON"): 2,
        ("projections", recharge, "empty message"): 1,
        ("payout", gifting, "cannot apply"): 1,
    }
    await eventually(lambda: _equal(pool, expected), timeout=90)
    example = await pool.fetchval(
        "SELECT example FROM analytics.dead_letters WHERE consumer = 'payout'"
    )
    assert example == "cannot apply: DataError [22003]: \ufffdbig"  # stored, NUL dropped

    # killed and restarted: faust re-delivers what it had not committed; nothing counts twice
    worker.kill()
    await dead_letter(settings, b"signature: unknown key id 'x'", "gifting", topics.RECHARGE_EVENTS)
    worker.start()
    expected[("gifting", recharge, "signature")] = 1
    await eventually(lambda: _equal(pool, expected), timeout=90)


async def _equal(pool, expected) -> bool:
    return await counts(pool) == expected


async def _messages(pool, consumer: str) -> int | None:
    return await pool.fetchval(
        "SELECT messages FROM dead_letter_counts WHERE consumer = $1 AND reason = 'not JSON'",
        consumer,
    )


async def test_a_redelivered_batch_is_not_counted_again(prepared, pools):
    pool = pools["projections"]
    consumer = f"c-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    part = 1000 + uuid.uuid4().int % 1_000_000  # a partition of its own in the shared database

    def letter(i: int) -> DeadLetter:
        return DeadLetter(part, i, now, dead_letter_headers("not JSON: x", "t", 0, i, consumer))

    batch = [letter(i) for i in range(3)]
    assert await record(pool, batch) == 3
    assert await record(pool, batch[1:]) == 0  # redelivered after a crash
    assert await record(pool, [*batch, letter(3)]) == 1
    assert await _messages(pool, consumer) == 4


async def test_a_source_message_dead_lettered_again_counts_once(prepared, pools):
    """A consumer killed before it commits refuses the same message again: a second dead
    letter, at a new offset of the dead-letter topic, of the same source message."""
    pool = pools["projections"]
    consumer = f"c-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    part = 1000 + uuid.uuid4().int % 1_000_000
    headers = dead_letter_headers("not JSON: x", "t", 2, 41, consumer)
    assert await record(pool, [DeadLetter(part, 0, now, headers)]) == 1
    assert await record(pool, [DeadLetter(part, 5, now, headers)]) == 0  # after the restart
    both = [DeadLetter(part, 6, now, headers), DeadLetter(part, 7, now, headers)]
    assert await record(pool, both) == 0  # and twice in one batch
    other = dead_letter_headers("not JSON: x", "t", 2, 42, consumer)  # the next source message
    elsewhere = dead_letter_headers("not JSON: x", "t", 2, 41, f"{consumer}-b")  # another group
    assert (
        await record(pool, [DeadLetter(part, 8, now, other), DeadLetter(part, 9, now, elsewhere)])
        == 2
    )
    assert await _messages(pool, consumer) == 2


async def test_a_letter_without_source_headers_counts_once_per_own_offset(prepared, pools):
    pool = pools["projections"]
    consumer = f"c-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    part = 1000 + uuid.uuid4().int % 1_000_000
    bad = [("reason", b"not JSON: x"), ("consumer", consumer.encode()), ("offset", b"\xff")]
    batch = [DeadLetter(part, i, now, bad) for i in range(2)]
    assert source(batch[0]) == (consumer, "(dead-letter)", part, 0)
    assert await record(pool, batch) == 2  # two letters: nothing says they are one message
    assert await record(pool, batch) == 0  # redelivered
    assert await _messages(pool, consumer) == 2


def test_a_reason_class_is_the_text_before_the_first_colon():
    assert reason_class("not JSON: unexpected character: line 1") == "not JSON"
    assert reason_class("empty message") == "empty message"
    assert reason_class("bad GiftSent v2 payload: coins: must be > 0") == "bad GiftSent v2 payload"
    assert reason_class("") == "(no reason)"
    assert len(reason_class("x" * 10_000)) == 200
