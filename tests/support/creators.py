"""Funding creators through the payout consumer itself (IdempotentConsumer.apply: the same
code path, dedupe included, that records from Kafka take), and a payout app whose clock a
test can set."""

import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from aiokafka.structs import ConsumerRecord

from eventkit.codec import encode, new_envelope
from eventkit.consumer import IdempotentConsumer
from eventkit.settings import Settings
from eventkit.signing import owner_headers
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.base import Payload
from schemas.events.gifting import ContentUnlocked, GiftContext, GiftSent
from services.payout.api import create
from services.payout.handlers import HANDLERS


def envelope(payload: Payload, aggregate: str, time: datetime | None = None) -> Envelope:
    env = new_envelope("/test", payload, aggregate_id=aggregate, aggregate_version=1)
    return env.model_copy(update={"time": time}) if time else env


def gift_sent(
    creator: str,
    coins: int,
    rate: str = "1",
    stream: str = "stream-1",
    time: datetime | None = None,
) -> Envelope:
    payload = GiftSent(
        gift_id=str(uuid.uuid4()),
        sender_id="fan-x",
        creator_id=creator,
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
    return envelope(payload, f"wallet-fan-x-{uuid.uuid4().hex[:6]}", time)


def content_unlocked(owner: str, coins: int, rate: str = "1") -> Envelope:
    payload = ContentUnlocked(
        unlock_id=str(uuid.uuid4()),
        user_id="fan-x",
        item_id="item-1",
        owner_id=owner,
        coins=coins,
        diamonds_per_coin=Decimal(rate),
        commission_rate=Decimal("0.5"),
        rates_version=1,
        catalog_version=1,
        balance_after=0,
    )
    return envelope(payload, "wallet-fan-x", None)


def record(env: Envelope, topic: str = topics.GIFTING_EVENTS, offset: int = 0) -> ConsumerRecord:
    value, key = encode(env), env.aggregateid.encode()
    headers = owner_headers(Settings(), topic, value, key)  # as the topic's owner publishes it
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, 0, len(value), headers)


async def consume(settings, pool, *envelopes: Envelope, topic: str = topics.GIFTING_EVENTS):
    consumer = IdempotentConsumer(
        settings, pool, "test-payout", [topic], HANDLERS, principal="payout"
    )
    return await consumer.apply([record(e, topic, i) for i, e in enumerate(envelopes)])


async def fund_creator(settings, pool, creator: str, diamonds: int) -> None:
    """Credits `diamonds` at rate 1, released at once (the reserve is not what is tested)."""
    await consume(settings, pool, gift_sent(creator, diamonds))
    await pool.execute("UPDATE creators SET held = 0 WHERE creator_id = $1", creator)
    await pool.execute("UPDATE credits SET released_at = now() WHERE creator_id = $1", creator)


class Clock:
    def __init__(self, now: datetime | None = None):
        self.now = now

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@asynccontextmanager
async def payout_app(settings):
    """(client, app) for the payout API in-process; set app.state.clock.now to move time."""
    app = create(settings)
    app.state.clock = Clock()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app
