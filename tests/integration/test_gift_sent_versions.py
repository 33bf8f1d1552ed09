"""A gifting topic holding GiftSent v1 and v2 (schemas/COMPATIBILITY.md: consumers read v2
before publishers emit it) replayed through payout-consumer and the projector on real
PostgreSQL: every recipient credited its share once, diamonds summing exactly, and read models
that see each gift as the host's."""

import uuid
from decimal import Decimal

from eventkit.codec import encode
from eventkit.consumer import IdempotentConsumer
from schemas import topics
from schemas.events.gifting import GiftContext, GiftSentV2, Recipient
from services.payout.handlers import BATCH_HANDLERS, HANDLERS
from services.projections.projector import Incoming, Projector
from tests.support.creators import envelope, gift_sent, record


def gift_v2(sender: str, stream: str, coins: int, rate: str, *shares: tuple[str, int]):
    payload = GiftSentV2(
        gift_id=str(uuid.uuid4()),
        sender_id=sender,
        recipients=tuple(Recipient(creator_id=c, share_bp=bp) for c, bp in shares),
        context=GiftContext(kind="live", id=stream),
        gift_code="custom",
        quantity=1,
        unit_price=coins,
        coins=coins,
        diamonds_per_coin=Decimal(rate),
        commission_rate=Decimal("0.5"),
        rates_version=1,
        catalog_version=1,
        balance_after=0,
    )
    return envelope(payload, f"wallet-{sender}")


def the_topic(tag: str) -> tuple[list, dict]:
    """v1 and v2 gifts interleaved, and the diamonds and coins each creator must end with."""
    host, a, b = f"host-{tag}", f"guest-a-{tag}", f"guest-b-{tag}"
    stream = f"s-{tag}"
    v1 = gift_sent(host, 10, rate="0.5", stream=stream)  # 5 diamonds, all the host's
    # 11 coins x 0.5 = 5 diamonds: a floor(11 x 0.4 x 0.5) = 2, the host the other 3
    split = gift_v2(f"fan-{tag}", stream, 11, "0.5", (host, 6000), (a, 4000))
    # 1001 x 0.333 = 333: a floor(111.1) = 111, b floor(55.5) = 55, the host 167
    three = gift_v2(f"fan-{tag}", stream, 1001, "0.333", (host, 5000), (a, 3333), (b, 1667))
    v1_again = gift_sent(host, 3, rate="1", stream=stream)  # 3
    events = [v1, split, three, v1_again]
    owed = {host: (5 + 3 + 167 + 3, 10 + 7 + 502 + 3), a: (2 + 111, 4 + 333), b: (55, 166)}
    return events, owed


async def credited(pool, creator: str) -> tuple[int, int, list]:
    earned = await pool.fetchval("SELECT earned FROM creators WHERE creator_id = $1", creator)
    events = await pool.fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 ORDER BY version", f"creator-{creator}"
    )
    data = [e["envelope"]["data"] for e in events]
    return earned, sum(d["coins"] for d in data), [e["envelope"] for e in events]


async def test_a_topic_of_v1_and_v2_gifts_credits_every_recipient_once(prepared, pools):
    tag = uuid.uuid4().hex[:6]
    events, owed = the_topic(tag)
    consumer = IdempotentConsumer(
        prepared,
        pools["payout"],
        "test-payout",
        [topics.GIFTING_EVENTS],
        HANDLERS,
        BATCH_HANDLERS,
        principal="payout",
    )
    records = [record(e, offset=i) for i, e in enumerate(events)]
    assert await consumer.apply(records) == []
    assert await consumer.apply(records) == []  # a replay from the start changes nothing
    one_by_one = IdempotentConsumer(
        prepared,
        pools["payout"],
        "test-payout-single",
        [topics.GIFTING_EVENTS],
        HANDLERS,
        principal="payout",
    )
    assert await one_by_one.apply(records) == []  # nor does another group's path, singly

    for creator, (diamonds, coins) in owed.items():
        earned, credited_coins, _ = await credited(pools["payout"], creator)
        assert (earned, credited_coins) == (diamonds, coins), creator
    # every gift's parts sum to the diamonds one creator would have earned
    assert sum(d for d, _ in owed.values()) == 5 + 5 + 333 + 3


async def test_the_projector_reads_both_versions_into_the_same_read_models(prepared, pools):
    tag = uuid.uuid4().hex[:6]
    events, owed = the_topic(tag)
    consumer = IdempotentConsumer(
        prepared,
        pools["payout"],
        "test-payout",
        [topics.GIFTING_EVENTS],
        HANDLERS,
        BATCH_HANDLERS,
        principal="payout",
    )
    assert await consumer.apply([record(e, offset=i) for i, e in enumerate(events)]) == []
    payout_events = [e for c in owed for e in (await credited(pools["payout"], c))[2]]

    projection_topic = f"test-gifts-{tag}"
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), projection_topic, 0, i)
        for i, e in enumerate(events)
    ] + [
        Incoming(
            encode(type(events[0]).model_validate(e)),
            e["aggregateid"].encode(),
            f"test-payout-{tag}",
            0,
            i,
        )
        for i, e in enumerate(payout_events)
    ]
    pool = pools["projections"]
    projector = Projector(pool)
    assert await projector.apply(batch) == []
    assert await projector.apply(batch) == []  # replayed: counted once

    host = f"host-{tag}"
    for creator, (diamonds, coins) in owed.items():
        row = await pool.fetchrow(
            "SELECT diamonds_earned, coins_received FROM creator_earnings WHERE creator_id = $1",
            creator,
        )
        assert tuple(row) == (diamonds, coins), creator
    gifters = await pool.fetch(
        "SELECT sender_id, creator_id, gifts, coins FROM stream_gifters WHERE stream_id = $1"
        " ORDER BY sender_id",
        f"s-{tag}",
    )
    assert [tuple(g) for g in gifters] == [(f"fan-{tag}", host, 2, 1012), ("fan-x", host, 2, 13)]
    counterparties = await pool.fetch(
        "SELECT DISTINCT counterparty FROM wallet_statements WHERE user_id = $1", f"fan-{tag}"
    )
    assert [r["counterparty"] for r in counterparties] == [host]
    assert (
        await pool.fetchval("SELECT gifted FROM wallet_balances WHERE user_id = $1", f"fan-{tag}")
        == 1012
    )
