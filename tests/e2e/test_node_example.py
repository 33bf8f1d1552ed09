"""examples/node (kafkajs + ajv, from the published files alone) against our real Kafka and
PostgreSQL: its producer publishes one AccountProfileUpdated as `accounts` and one
PlaceTransactionBan as `moderation`, signed and in the CloudEvents binding, and gifting's and
recharge's consumers apply them; its consumer validates every message of the gifting topic
against schemas/json and counts as many GiftSent as were published. Node and the packages are
installed by infra.node when missing (never skipped)."""

import asyncio
import json
import uuid

from eventkit.codec import encode
from eventkit.consumer import IdempotentConsumer
from eventkit.db import create_pool
from eventkit.kafka import ADMIN, password, producer
from eventkit.secrets import secret
from eventkit.signing import owner_headers, secret_name
from infra import node
from infra.paths import ROOT
from schemas import topics
from services.gifting.__main__ import SPEC as GIFTING
from services.recharge.__main__ import SPEC as RECHARGE
from tests.support.creators import gift_sent

EXAMPLE = ROOT / "examples" / "node"


def node_env(settings) -> dict[str, str]:
    env = {
        "KAFKA_BROKERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "SCHEMAS_DIR": str(ROOT / "schemas" / "json"),
        "KAFKA_SSL": "1" if settings.kafka_security_protocol == "SASL_SSL" else "0",
        # the test reads as the broker's super user; a real reader has its own principal
        "KAFKA_SASL_USERNAME": ADMIN,
        "KAFKA_SASL_PASSWORD": password(settings, ADMIN),
    }
    for principal in topics.OUTSIDE_PUBLISHERS:
        env[f"{principal.upper()}_KAFKA_PASSWORD"] = password(settings, principal)
        env[f"{principal.upper()}_SIGNING_KEY"] = secret(settings, secret_name(principal))
    return env


async def until(check, timeout: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (got := await check()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return got


async def test_the_node_example_produces_what_we_apply_and_counts_our_gifts(namespace):
    settings = await namespace("node")
    env = node_env(settings)
    fan, banned = f"fan-{uuid.uuid4().hex[:8]}", f"fan-{uuid.uuid4().hex[:8]}"

    done = await asyncio.to_thread(node.run, EXAMPLE, "producer.js", fan, banned, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    sent = json.loads(done.stdout.strip().splitlines()[-1])
    assert [s["type"] for s in sent] == ["AccountProfileUpdated", "PlaceTransactionBan"]

    for spec, check in (
        (GIFTING, ("SELECT country, account_type FROM profiles WHERE user_id = $1", fan)),
        (RECHARGE, ("SELECT user_id FROM bans WHERE user_id = $1", banned)),
    ):
        pool = await create_pool(settings.database_for(spec.name))
        group = f"{settings.db_prefix}-{spec.name}"
        consumer = IdempotentConsumer(
            settings, pool, group, spec.consumed_topics, spec.handlers, principal=spec.name
        )
        task = asyncio.create_task(consumer.run())
        try:
            row = await until(lambda check=check, pool=pool: pool.fetchrow(*check))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await pool.close()
        if spec is GIFTING:
            assert dict(row) == {"country": "DE", "account_type": "personal"}

    gifts = [gift_sent(f"cr-{uuid.uuid4().hex[:6]}", 5 + i) for i in range(3)]
    p = producer(settings, topics.OWNER[topics.GIFTING_EVENTS])
    await p.start()
    try:
        for gift in gifts:
            value, key = encode(gift), gift.aggregateid.encode()
            headers = owner_headers(settings, topics.GIFTING_EVENTS, value, key)
            await p.send_and_wait(
                settings.topic(topics.GIFTING_EVENTS), value, key=key, headers=headers
            )
    finally:
        await p.stop()
    done = await asyncio.to_thread(
        node.run, EXAMPLE, "consumer.js", topics.GIFTING_EVENTS, topics.ACCOUNTS_EVENTS, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["invalid"] == [], summary
    assert summary["giftsent"] == len(gifts)
    assert summary["read"] == len(gifts) + 1  # and the profile it published itself
