"""A message that decodes but that PostgreSQL refuses for good (a payload-caused data or
integrity error) never blocks a consumer: mid-batch, with good events before and after it on the
same partition, the good ones are applied, the pill lands on the dead-letter topic with the
database's reason, and the group's committed offsets reach the end of every partition (lag 0).

Two real payload-caused refusals are used: an integer beyond PostgreSQL's bigint (the contract
bounds coins below only), and, for events that carry no such integer, a CHECK constraint the
test adds to the handler's table that refuses the pill's user id (a 23514 integrity error, the
kind a NUL once caused before the contract refused it)."""

import asyncio
import uuid
from datetime import date

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.codec import encode, new_envelope
from eventkit.consumer import IdempotentConsumer
from eventkit.db import create_pool, owner_connect
from eventkit.failures import is_permanent
from eventkit.kafka import ADMIN, client_options, producer
from eventkit.signing import owner_headers
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.accounts import AccountProfileUpdated
from schemas.events.sanctions import PlaceTransactionBan, TransactionBanPlaced
from services.gifting.__main__ import SPEC as GIFTING
from services.payout.__main__ import SPEC as PAYOUT
from services.recharge.__main__ import SPEC as RECHARGE
from tests.integration.test_plumbing import envelope as coin_purchased
from tests.support.creators import gift_sent
from tests.support.kafka import read_topic

BEYOND_BIGINT = 2**63


def uid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def ban_placed(user: str) -> Envelope:
    ban = uid("ban")
    return new_envelope(
        "/test",
        TransactionBanPlaced(
            ban_id=ban, user_id=user, scopes=["gift"], reason="test", source="admin"
        ),
        aggregate_id=f"ban-{ban}",
        aggregate_version=1,
    )


def profile(user: str) -> Envelope:
    return new_envelope(
        "/test",
        AccountProfileUpdated(
            user_id=user, country="US", birthdate=date(2000, 1, 1), account_type="personal"
        ),
        aggregate_id=f"account-{user}",
        aggregate_version=1,
    )


def ban_command(user: str) -> Envelope:
    return new_envelope(
        "/test",
        PlaceTransactionBan(ban_id=uid("b"), user_id=user, scopes=["gift"], reason="test"),
        aggregate_id="moderation",
        aggregate_version=1,
    )


# (service, topic) -> (spec, a good event for a user, the pill, table a CHECK refuses it at)
CASES = {
    ("gifting", "recharge"): (
        GIFTING,
        topics.RECHARGE_EVENTS,
        coin_purchased,
        lambda _: coin_purchased(uid("fan"), coins=BEYOND_BIGINT),
        None,
    ),
    ("gifting", "sanctions"): (GIFTING, topics.SANCTIONS_EVENTS, ban_placed, ban_placed, "bans"),
    ("gifting", "accounts"): (GIFTING, topics.ACCOUNTS_EVENTS, profile, profile, "profiles"),
    ("payout", "gifting"): (
        PAYOUT,
        topics.GIFTING_EVENTS,
        lambda u: gift_sent(u, 10),
        lambda _: gift_sent(uid("cr"), BEYOND_BIGINT),
        None,
    ),
    ("payout", "sanctions"): (PAYOUT, topics.SANCTIONS_EVENTS, ban_placed, ban_placed, "bans"),
    ("recharge", "moderation"): (
        RECHARGE,
        topics.MODERATION_COMMANDS,
        ban_command,
        ban_command,
        "bans",
    ),
}


async def lag(settings, group: str, topic: str) -> int:
    name = settings.topic(topic)
    c = AIOKafkaConsumer(
        **client_options(settings, ADMIN), group_id=group, enable_auto_commit=False
    )
    await c.start()
    try:
        tps = [TopicPartition(name, p) for p in c.partitions_for_topic(name) or ()]
        if not tps:
            await c._client.force_metadata_update()
            tps = [TopicPartition(name, p) for p in c.partitions_for_topic(name)]
        ends = await c.end_offsets(tps)
        behind = 0
        for tp in tps:
            behind += ends[tp] - (await c.committed(tp) or 0)
        return behind
    finally:
        await c.stop()


@pytest.mark.parametrize("case", list(CASES), ids=lambda c: f"{c[0]}-{c[1]}")
async def test_a_pill_postgresql_refuses_mid_batch_is_dead_lettered_and_the_rest_applied(
    namespace, case
):
    settings = await namespace(f"d{case[0][:2]}{case[1][:2]}")
    spec, topic, good, pill_for, table = CASES[case]
    pill_user = uid("pill")
    before, pill, after = good(uid("u")), pill_for(pill_user), good(uid("u"))
    pool = await create_pool(settings.database_for(spec.name))
    if table:  # DDL: as the database's owner (the service's own role may not)
        owner = await owner_connect(settings, spec.name)
        await owner.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT refuses_the_pill CHECK (user_id <> '{pill_user}')"
        )
        await owner.close()
    p = producer(settings, topics.OWNER[topic])
    await p.start()
    try:
        for event in (before, pill, after):  # one partition, in this order
            value, key = encode(event), event.aggregateid.encode()
            headers = owner_headers(settings, topic, value, key)
            await p.send_and_wait(
                settings.topic(topic), value, key=key, partition=0, headers=headers
            )
    finally:
        await p.stop()

    group = f"{settings.db_prefix}-{spec.name}"
    consumer = IdempotentConsumer(
        settings, pool, group, spec.consumed_topics, spec.handlers, principal=spec.name
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(150):
            if await lag(settings, group, topic) == 0:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{case}: the group's lag never returned to 0")
        applied = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM processed_events")}
        dead = await read_topic(settings, topics.DEAD_LETTER, expect=1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()

    assert before.id in applied and after.id in applied and pill.id not in applied
    assert len(dead) == 1, [dict(r.headers)["reason"] for r in dead]
    headers = dict(dead[0].headers)
    assert dead[0].value == encode(pill)
    assert headers["reason"].startswith(b"cannot apply: "), headers["reason"]
    assert (b"[23514]" if table else b"DataError") in headers["reason"], headers["reason"]
    assert headers["topic"] == settings.topic(topic).encode()
    assert headers["consumer"] == group.encode()


# --- the classifier on what a real PostgreSQL raises -----------------------------------------


async def raised(pool, sql: str, *args) -> BaseException:
    try:
        await pool.execute(sql, *args)
    except Exception as exc:  # noqa: BLE001 - the exception is the result
        return exc
    raise AssertionError(f"{sql} did not fail")


async def test_payload_caused_database_errors_are_permanent_and_races_are_not(pools):
    pool = pools["gifting"]
    permanent = [
        await raised(pool, "SELECT $1::text", "x\x00y"),  # NUL (22021 / encode)
        await raised(pool, "SELECT $1::bigint", BEYOND_BIGINT),  # encode: beyond bigint
        await raised(pool, "SELECT 9223372036854775807::bigint + 1"),  # 22003 out of range
        await raised(pool, "SELECT 1 / 0"),  # 22012
        await raised(pool, "INSERT INTO wallets (user_id) VALUES (NULL)"),  # 23502
    ]
    assert all(is_permanent(e) for e in permanent), [repr(e) for e in permanent]
    transient = [
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        ConnectionResetError(),
        OSError("network unreachable"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    ]
    # and a real one: a statement cancelled by its timeout (57014)
    conn = await pool.acquire()
    try:
        await conn.execute("SET statement_timeout = 10")
        transient.append(await raised(conn, "SELECT pg_sleep(1)"))
        await conn.execute("RESET statement_timeout")
    finally:
        await pool.release(conn)
    assert not any(is_permanent(e) for e in transient), [repr(e) for e in transient]
