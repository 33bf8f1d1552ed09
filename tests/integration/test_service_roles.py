"""A PostgreSQL role per service (eventkit/roles.py): each service logs in as a role with DML
rights in its own database only, none of them a superuser; the objects belong to an owner role
nobody logs in as; the read API's role and the auditor only read."""

import uuid
from pathlib import Path

import asyncpg
import pytest

from eventkit.db import (
    SchemaNotReady,
    apply_migrations,
    migrate,
    owner_connect,
    wait_for_schema,
)
from eventkit.roles import AUDITOR, READER, roles_for
from eventkit.settings import Settings
from infra.__main__ import ROOT, SERVICES
from infra.namespace import drop_namespace

REFUSED = (asyncpg.InsufficientPrivilegeError,)


def migrations(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


async def refused(conn: asyncpg.Connection, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with conn.transaction():
            await conn.execute(sql)


async def test_no_login_role_is_a_superuser_or_may_create_databases_or_roles(prepared):
    for service in SERVICES:
        for login in (None, AUDITOR) + ((READER,) if service == "projections" else ()):
            conn = await asyncpg.connect(prepared.database_for(service, login))
            try:
                row = await conn.fetchrow(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
                    " FROM pg_roles WHERE rolname = current_user"
                )
                assert not any(row.values()), (service, login, dict(row))
            finally:
                await conn.close()


async def test_each_service_is_refused_the_other_services_databases(prepared):
    for service in SERVICES:
        for other in SERVICES:
            if other == service:
                continue
            own = prepared.database_for(service)
            elsewhere = own.rsplit("/", 1)[0] + f"/{prepared.db_prefix}_{other}"
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
                await asyncpg.connect(elsewhere)


async def test_each_service_does_its_dml_and_no_ddl_in_its_own_database(prepared):
    for service in SERVICES:
        conn = await asyncpg.connect(prepared.database_for(service))
        try:
            async with conn.transaction():
                event = uuid.uuid4()
                await conn.execute(
                    "INSERT INTO processed_events (event_id, topic) VALUES ($1, 't')", event
                )
                await conn.execute(
                    "UPDATE processed_events SET topic = 'u' WHERE event_id = $1", event
                )
                assert await conn.fetchval(
                    "SELECT topic FROM processed_events WHERE event_id = $1", event
                )
                await conn.execute("DELETE FROM processed_events WHERE event_id = $1", event)
                await conn.fetchval("SELECT nextval('outbox_id_seq')")  # USAGE on sequences
            for sql in (
                "CREATE TABLE mine (x int)",
                "CREATE TEMP TABLE mine (x int)",
                "CREATE SCHEMA mine",
                "CREATE VIEW mine AS SELECT 1",
                "CREATE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "ALTER TABLE processed_events ADD COLUMN x int",
                "DROP TABLE processed_events",
                "TRUNCATE processed_events",
                "INSERT INTO schema_migrations (name) VALUES ('forged')",
                "DELETE FROM schema_migrations",
            ):
                await refused(conn, sql)
        finally:
            await conn.close()


async def test_the_read_api_role_reads_the_read_models_and_writes_nothing(prepared):
    conn = await asyncpg.connect(prepared.database_for("projections", READER))
    try:
        await conn.fetch("SELECT * FROM wallet_balances LIMIT 1")
        await conn.fetch("SELECT * FROM creator_earnings LIMIT 1")
        assert await conn.fetchval("SELECT count(*) FROM analytics.freshness") == 1
        for sql in (
            "INSERT INTO wallet_balances (user_id) VALUES ('x')",
            "UPDATE creator_earnings SET diamonds_paid = 0",
            "DELETE FROM projected_events",
            "TRUNCATE wallet_balances",
            "CREATE TABLE mine (x int)",
            "CREATE TEMP TABLE mine (x int)",
            "DROP VIEW analytics.freshness",
        ):
            await refused(conn, sql)
    finally:
        await conn.close()
    for other in ("recharge", "gifting", "payout"):
        elsewhere = prepared.database_for("projections", READER).rsplit("/", 1)[0]
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
            await asyncpg.connect(f"{elsewhere}/{prepared.db_prefix}_{other}")


async def test_the_auditor_reads_every_service_database_and_writes_nothing(prepared):
    for service in SERVICES:
        conn = await asyncpg.connect(prepared.database_for(service, AUDITOR))
        try:
            await conn.fetchval("SELECT count(*) FROM events")
            await conn.fetchval("SELECT count(*) FROM outbox")
            await refused(conn, "DELETE FROM outbox")
            await refused(
                conn,
                "INSERT INTO processed_events (event_id, topic) VALUES (gen_random_uuid(), 't')",
            )
            await refused(conn, "CREATE TABLE mine (x int)")
        finally:
            await conn.close()


async def ownership(settings: Settings, service: str) -> tuple[str, set[str]]:
    """The database's owner and the owners of every object in it (system schemas aside)."""
    conn = await asyncpg.connect(settings.admin_database_for(service))
    try:
        database = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        owners = {
            r[0]
            for r in await conn.fetch(
                "SELECT pg_get_userbyid(c.relowner) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
                " UNION SELECT pg_get_userbyid(nspowner) FROM pg_namespace"
                " WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')"
            )
        }
        return database, owners
    finally:
        await conn.close()


async def test_every_object_belongs_to_the_owner_role_not_the_login(prepared):
    for service in SERVICES:
        roles = roles_for(prepared, service)
        assert await ownership(prepared, service) == (roles.owner, {roles.owner}), service


async def test_what_the_owner_creates_later_is_granted_by_default(prepared):
    """A later migration's (or a rebuild's) table: the login may write it, the readers read it."""
    name = f"later_{uuid.uuid4().hex[:8]}"
    owner = await owner_connect(prepared, "projections")
    try:
        await owner.execute(f"CREATE TABLE {name} (x int)")
        login = await asyncpg.connect(prepared.database_for("projections"))
        reader = await asyncpg.connect(prepared.database_for("projections", READER))
        try:
            await login.execute(f"INSERT INTO {name} VALUES (1)")
            assert await reader.fetchval(f"SELECT x FROM {name}") == 1
            await refused(reader, f"INSERT INTO {name} VALUES (2)")
        finally:
            await login.close()
            await reader.close()
    finally:
        await owner.execute(f"DROP TABLE {name}")
        await owner.close()


async def test_a_database_made_before_the_roles_is_handed_to_the_owner(endpoints):
    """A dev cache's database, migrated as the superuser before roles existed, is adopted by
    the owner role at the next migration step, and its login can then work in it."""
    prefix = f"l{uuid.uuid4().hex[:8]}"
    settings = Settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        database_url=endpoints.database_url,
        db_prefix=prefix,
        topic_prefix=f"{prefix}.",
    )
    try:
        for service in SERVICES:
            await apply_migrations(settings.admin_database_for(service), migrations(service))
            roles = roles_for(settings, service)
            database, owners = await ownership(settings, service)
            assert roles.owner not in owners | {database}  # the old way: the superuser's
            await migrate(settings, service, migrations(service))
            await migrate(settings, service, migrations(service))  # idempotent
            assert await ownership(settings, service) == (roles.owner, {roles.owner}), service
        conn = await asyncpg.connect(settings.database_for("gifting"))
        try:
            await conn.execute("INSERT INTO wallets (user_id, balance) VALUES ('fan', 5)")
            await refused(conn, "DROP TABLE wallets")
        finally:
            await conn.close()
    finally:
        await drop_namespace(settings)


async def test_a_service_waits_for_migrations_it_cannot_apply_itself(prepared, tmp_path):
    await wait_for_schema(prepared.database_for("gifting"), migrations("gifting"), patience=0)
    ahead = tmp_path / "migrations"
    ahead.mkdir()
    (ahead / "999_next.sql").write_text("SELECT 1;")
    with pytest.raises(SchemaNotReady, match="999_next.sql"):
        await wait_for_schema(prepared.database_for("gifting"), ahead, patience=0)
