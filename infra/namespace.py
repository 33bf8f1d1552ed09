"""A test namespace: its own databases (`<prefix>_<service>`) and topics (`<prefix>.<topic>`)."""

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from eventkit.db import migrate
from eventkit.kafka import create_topics
from eventkit.settings import Settings
from infra.__main__ import ROOT, SERVICES


async def prepare_namespace(settings: Settings) -> None:
    for service in SERVICES:
        await migrate(settings.database_for(service), ROOT / "services" / service / "migrations")
    await create_topics(settings)


async def drop_namespace(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    conn = await asyncpg.connect(settings.database_for("postgres").rsplit("/", 1)[0] + "/postgres")
    try:
        for service in SERVICES:
            await conn.execute(
                f'DROP DATABASE IF EXISTS "{settings.db_prefix}_{service}" WITH (FORCE)')
    finally:
        await conn.close()
