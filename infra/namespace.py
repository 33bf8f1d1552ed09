"""A test namespace: its own databases (`<prefix>_<service>`) and topics (`<prefix>.<topic>`)."""

import asyncio

import asyncpg

from eventkit.db import migrate
from eventkit.kafka import admin as kafka_admin
from eventkit.kafka import create_topics
from eventkit.roles import drop_roles
from eventkit.settings import Settings
from infra import kafka_access, secrets
from infra.__main__ import ROOT, SERVICES


async def prepare_namespace(settings: Settings) -> None:
    secrets.ensure(settings)  # a private cache dir (chaos) starts with none
    for service in SERVICES:
        await migrate(settings, service, ROOT / "services" / service / "migrations")
    await create_topics(settings)
    await asyncio.to_thread(kafka_access.provision, settings)  # SCRAM users, this prefix's ACLs


def server_url(settings: Settings, database: str) -> str:
    """An admin DSN for `database` on the configured server."""
    return settings.admin_database_for("x").rsplit("/", 1)[0] + f"/{database}"


async def drop_namespace(settings: Settings, extra_databases: tuple[str, ...] = ()) -> None:
    """Drops this prefix's databases and topics (and only those)."""
    assert settings.db_prefix != "coinstream", "refusing to drop the default databases"
    await asyncio.to_thread(kafka_access.delete_acls, settings)
    admin = kafka_admin(settings)
    await admin.start()
    try:
        # The prefix's topics, and the internal topics of its faust app (`<db_prefix>-...`).
        owned = (settings.topic_prefix, f"{settings.db_prefix}-")
        mine = [t for t in await admin.list_topics() if t.startswith(owned)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    conn = await asyncpg.connect(server_url(settings, "postgres"))
    try:
        for name in (*(f"{settings.db_prefix}_{s}" for s in SERVICES), *extra_databases):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await drop_roles(conn, settings, SERVICES)
    finally:
        await conn.close()
