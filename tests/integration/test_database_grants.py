"""Who may enter which database: PUBLIC's default CONNECT and TEMPORARY are taken back on every
service database, so an analyst's login reaches the projections views and nothing else, and a
service's own login role may enter its database (tests/integration/test_service_roles.py has
what it may do there)."""

import uuid

import asyncpg
import pytest

from infra.__main__ import SERVICES

PRIVATE = tuple(s for s in SERVICES if s != "projections")


def as_login(dsn: str, name: str) -> str:
    server = dsn.split("@", 1)[1]
    return f"postgresql://{name}:pw@{server}"


@pytest.fixture
async def logins(prepared):
    """An analyst's login and a login in no role at all, dropped afterwards."""
    admin = await asyncpg.connect(prepared.admin_database_for("projections"))
    tag = uuid.uuid4().hex[:8]
    analyst, nobody = f"analyst_{tag}", f"nobody_{tag}"
    await admin.execute(f"CREATE ROLE {analyst} LOGIN PASSWORD 'pw' IN ROLE coinstream_analyst")
    await admin.execute(f"CREATE ROLE {nobody} LOGIN PASSWORD 'pw'")
    yield analyst, nobody
    await admin.execute(f"DROP ROLE {analyst}")
    await admin.execute(f"DROP ROLE {nobody}")
    await admin.close()


async def test_the_analyst_reaches_the_projections_views_and_no_service_database(prepared, logins):
    analyst, _ = logins
    for service in PRIVATE:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
            await asyncpg.connect(as_login(prepared.database_for(service), analyst))
    conn = await asyncpg.connect(as_login(prepared.database_for("projections"), analyst))
    try:
        assert await conn.fetchval("SELECT count(*) FROM analytics.freshness") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TEMP TABLE mine (x int)")
    finally:
        await conn.close()


async def test_a_login_in_no_role_enters_no_service_database(prepared, logins):
    _, nobody = logins
    for service in SERVICES:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
            await asyncpg.connect(as_login(prepared.database_for(service), nobody))


async def test_each_service_enters_its_own_database_and_makes_no_temporary_tables(pools):
    for service, pool in pools.items():
        async with pool.acquire() as conn:
            assert await conn.fetchval(
                "SELECT has_database_privilege(current_database(), 'CONNECT')"
            ), service
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TEMP TABLE mine (x int)")
