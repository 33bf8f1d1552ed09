"""Signed events as the second line behind the broker's ACLs: the issue's forged CoinPurchased
(1,000,000 coins for 1 cent) written straight to the recharge topic by the broker's super user,
as if it had got past the ACLs, unsigned, signed with the gifting key, and with a tampered
body. Gifting's consumer and the projections worker dead-letter each with its reason and leave
the wallet untouched; a rebuild does not fold them in either. And a key rotation: while two
recharge keys are in the keyring, messages signed by either are applied."""

import asyncio
import uuid

import orjson
import pytest

from eventkit import signing
from eventkit.codec import encode
from eventkit.consumer import IdempotentConsumer
from eventkit.db import create_pool
from eventkit.kafka import producer
from schemas import topics
from scripts.projections_crash import WorkerProcess, drop_faust_topics, wait_caught_up
from services.gifting.__main__ import SPEC as GIFTING
from services.projections.rebuild import rebuild
from tests.support.kafka import read_topic
from tests.support.wallets import coin_purchased

RECHARGE = topics.RECHARGE_EVENTS
MILLION = 1_000_000


def forgeries(settings, user: str) -> dict[bytes, tuple[bytes, list, str]]:
    """key -> (value, headers, the reason it must be dead-lettered with)."""
    unsigned = encode(coin_purchased(user, MILLION)[0])
    by_gifting = encode(coin_purchased(user, MILLION)[0])
    honest = encode(coin_purchased(user, 7)[0])
    tampered = orjson.dumps(
        {**(doc := orjson.loads(honest)), "data": {**doc["data"], "coins": MILLION}}
    )
    gifting_kid = signing.signer(settings, "gifting").kid
    recharge_kid = signing.signer(settings, "recharge").kid
    return {
        b"forged-unsigned": (unsigned, [], "signature: unsigned message"),
        b"forged-by-gifting": (
            by_gifting,
            signing.signed_headers(settings, "gifting", RECHARGE, by_gifting, b"forged-by-gifting"),
            f"signature: key {gifting_kid} belongs to gifting; {RECHARGE} is written by recharge",
        ),
        b"forged-tampered": (
            tampered,
            signing.owner_headers(settings, RECHARGE, honest, b"forged-tampered"),
            f"signature: bad signature by key {recharge_kid}",
        ),
    }


async def send(settings, messages: list[tuple[bytes, bytes, list]]) -> None:
    """Writes (key, value, headers) to the recharge topic as the broker's super user."""
    p = producer(settings, "admin")
    await p.start()
    try:
        for key, value, headers in messages:
            await p.send_and_wait(settings.topic(RECHARGE), value, key=key, headers=headers)
    finally:
        await p.stop()


async def until(check, timeout: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (got := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return got


def assert_dead_lettered(settings, dead, forged, consumer: str) -> None:
    landed = {r.key: dict(r.headers) for r in dead if r.key in forged}
    assert set(landed) == set(forged), f"not dead-lettered: {set(forged) - set(landed)}"
    for key, headers in landed.items():
        assert headers["reason"].decode().startswith(forged[key][2]), headers["reason"]
        assert headers["topic"] == settings.topic(RECHARGE).encode()
        assert headers["consumer"] == consumer.encode()


def good_purchase(settings, user: str, coins: int) -> tuple[bytes, bytes, list]:
    event = coin_purchased(user, coins)[0]
    value, key = encode(event), event.aggregateid.encode()  # keyed as the relay keys it
    return key, value, signing.owner_headers(settings, RECHARGE, value, key)


async def run_gifting(settings, pool, until_applied: str, dead_letters: int):
    """Runs gifting's consumer until `until_applied` has a wallet and `dead_letters` messages
    are on the dead-letter topic (the forgeries sit on other partitions than the good
    purchase, so either may come first); those dead letters."""
    consumer = IdempotentConsumer(
        settings,
        pool,
        f"{settings.db_prefix}-gifting",
        GIFTING.consumed_topics,
        GIFTING.handlers,
        principal="gifting",
    )
    task = asyncio.create_task(consumer.run())
    try:
        await until(
            lambda: pool.fetchval("SELECT balance FROM wallets WHERE user_id = $1", until_applied)
        )
        return await read_topic(settings, topics.DEAD_LETTER, expect=dead_letters, timeout=60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_forged_coin_purchases_are_dead_lettered_by_gifting(namespace):
    settings = await namespace("sgift")
    forger, honest = f"fan-{uuid.uuid4().hex[:8]}", f"fan-{uuid.uuid4().hex[:8]}"
    forged = forgeries(settings, forger)
    await send(
        settings,
        [(k, v, h) for k, (v, h, _) in forged.items()] + [good_purchase(settings, honest, 70)],
    )
    pool = await create_pool(settings.database_for("gifting"))
    try:
        dead = await run_gifting(settings, pool, honest, dead_letters=len(forged))
        assert await pool.fetchval("SELECT balance FROM wallets WHERE user_id = $1", honest) == 70
        assert await pool.fetchval("SELECT count(*) FROM wallets WHERE user_id = $1", forger) == 0
    finally:
        await pool.close()
    assert_dead_lettered(settings, dead, forged, f"{settings.db_prefix}-gifting")
    assert len(dead) == len(forged), "the good purchase must not be dead-lettered"


@pytest.fixture
async def worker(namespace):
    settings = await namespace(f"sw{uuid.uuid4().hex[:4]}")
    process = WorkerProcess(settings)
    process.start()
    pool = await create_pool(settings.database_for("projections"))
    yield settings, pool
    process.kill()
    await pool.close()
    await drop_faust_topics(settings)


async def test_forged_coin_purchases_are_dead_lettered_by_the_projections_worker(worker):
    settings, pool = worker
    forger, honest = f"fan-{uuid.uuid4().hex[:8]}", f"fan-{uuid.uuid4().hex[:8]}"
    forged = forgeries(settings, forger)
    await send(
        settings,
        [(k, v, h) for k, (v, h, _) in forged.items()] + [good_purchase(settings, honest, 70)],
    )
    balance = "SELECT balance FROM wallet_balances WHERE user_id = $1"
    assert await until(lambda: pool.fetchval(balance, honest)) == 70
    dead = await read_topic(settings, topics.DEAD_LETTER, expect=len(forged))
    assert_dead_lettered(settings, dead, forged, "projections")
    async with pool.acquire() as conn:  # positions moved past the forgeries: no lag left
        await wait_caught_up(settings, conn)
    assert await pool.fetchval(balance, forger) is None

    await rebuild(settings)  # replays the topic: the forgeries are refused again
    assert await pool.fetchval(balance, forger) is None
    assert await pool.fetchval(balance, honest) == 70


async def test_during_a_rotation_both_keys_verify(namespace, tmp_path):
    """Step 1 of docs/event-signing.md: the new key is in every keyring, the old one retired,
    and messages signed by either (the backlog and the new ones) are applied; a revoked key's
    message is dead-lettered."""
    base = await namespace("srot")
    old, new, revoked = (signing.new_private_key() for _ in range(3))
    ring = signing.Keyring()
    old_kid = signing.trust(ring, "recharge", signing.public_of(old))
    signing.trust(ring, "recharge", signing.public_of(new))
    signing.set_status(ring, old_kid, "retired")
    signing.set_status(ring, signing.trust(ring, "recharge", signing.public_of(revoked)), "revoked")
    signing.write_keyring(tmp_path / "keyring.json", ring)
    settings = base.model_copy(update={"event_keyring": tmp_path / "keyring.json"})

    users = {key: f"fan-{uuid.uuid4().hex[:8]}" for key in ("old", "new", "revoked")}
    messages, keys = [], {}
    for name, private in (("revoked", revoked), ("old", old), ("new", new)):
        event = coin_purchased(users[name], 10)[0]
        value, key = encode(event), event.aggregateid.encode()
        keys[name] = key
        messages.append(
            (key, value, signing.Signer("recharge", private).headers(RECHARGE, key, value))
        )
    await send(settings, messages)
    pool = await create_pool(settings.database_for("gifting"))
    try:
        consumer = IdempotentConsumer(
            settings,
            pool,
            f"{settings.db_prefix}-gifting",
            GIFTING.consumed_topics,
            GIFTING.handlers,
            principal="gifting",
        )
        task = asyncio.create_task(consumer.run())
        try:
            for name in ("old", "new"):
                got = await until(
                    lambda name=name: pool.fetchval(
                        "SELECT balance FROM wallets WHERE user_id = $1", users[name]
                    )
                )
                assert got == 10, name
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        dead = await read_topic(settings, topics.DEAD_LETTER, expect=1)
        assert [(r.key, dict(r.headers)["reason"].split(b" is ")[-1]) for r in dead] == [
            (keys["revoked"], b"revoked")
        ]
        assert (
            await pool.fetchval("SELECT count(*) FROM wallets WHERE user_id = $1", users["revoked"])
            == 0
        )
    finally:
        await pool.close()
