"""Database bootstrap: create a service's roles and database when missing and apply its SQL
migrations as the database's owner role (eventkit/roles.py).

Migrations are plain numbered .sql files applied once each, in order, inside a transaction and
under an advisory lock (several processes may start at once). A migration library would pull in
a second driver (psycopg/SQLAlchemy) for what is a dozen lines on asyncpg.
"""

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from eventkit.roles import Roles, adopt, ensure_roles, grant, roles_for
from eventkit.settings import Settings

PLUMBING = Path(__file__).resolve().parent / "sql"
_LOCK_KEY = 0x0C01_5EA3
log = logging.getLogger(__name__)
T = TypeVar("T")
UNREACHABLE = (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError)


async def when_database_answers(attempt: Callable[[], Awaitable[T]], patience: float = 120.0) -> T:
    """Runs `attempt` until the database answers. A process may start before its database or
    during an outage (compose start order, a restart mid-outage): it waits rather than exits."""
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            return await attempt()
        except UNREACHABLE as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("database not answering yet (%r); retrying in 1s", exc)
            await asyncio.sleep(1)


async def ensure_database(dsn: str, owner: str | None = None) -> None:
    """Creates the DSN's database when missing (`dsn`: the admin's), owned by `owner` if given
    (and handed to it if it was made before, by the superuser)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it first
        if owner:
            await admin.execute(f'ALTER DATABASE "{name}" OWNER TO "{owner}"')
    finally:
        await admin.close()


def migration_files(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in sorted(d.glob("*.sql"))]


def migration_names(*dirs: Path) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in migration_files(PLUMBING, *dirs)]


async def migrate(settings: Settings, service: str, *dirs: Path) -> list[str]:
    """Makes `service`'s roles and database (eventkit.roles), applies the plumbing migrations,
    then each dir's, as the database's owner role, and grants the login roles their rights;
    returns the names newly applied. Connects with the admin's credentials (database_url):
    only `prepare` and the `migrate` role run this, never a service process (see
    wait_for_schema). Each migration commits with its record, so a retry after an outage
    resumes where it was."""
    return await when_database_answers(lambda: _migrate_service(settings, service, *dirs))


async def _migrate_service(settings: Settings, service: str, *dirs: Path) -> list[str]:
    admin_dsn = settings.admin_database_for(service)
    parts = urlsplit(admin_dsn)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        roles = await ensure_roles(admin, settings, service)
    finally:
        await admin.close()
    await ensure_database(admin_dsn, roles.owner)
    return await apply_migrations(admin_dsn, *dirs, roles=roles)


async def apply_migrations(dsn: str, *dirs: Path, roles: Roles | None = None) -> list[str]:
    """Applies the migrations not yet recorded on the DSN's database (as `roles.owner`, with
    the logins' grants after, when given; as the DSN's own role otherwise: the bench's peer)."""
    if roles is None:
        await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        if roles is not None:
            await adopt(conn, roles.owner)
            # Session-wide: whatever the migrations create belongs to the owner.
            await conn.execute(f'SET ROLE "{roles.owner}"')
        await _private(conn)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for path in migration_files(PLUMBING, *dirs):
            name = f"{path.parent.name}/{path.name}"
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
        if roles is not None:
            await grant(conn, roles)
    finally:
        await conn.close()
    return applied


class SchemaNotReady(RuntimeError):
    """The database lacks migrations this code needs (`prepare` / `migrate` has not run)."""


_NOT_YET = (
    asyncpg.InvalidCatalogNameError,  # no database yet
    asyncpg.InvalidAuthorizationSpecificationError,  # no login role yet
    asyncpg.InvalidPasswordError,  # its password not set yet
    asyncpg.UndefinedTableError,  # no schema_migrations yet
    asyncpg.InsufficientPrivilegeError,  # not granted yet
)


async def wait_for_schema(dsn: str, *dirs: Path, patience: float = 120.0) -> None:
    """Waits until the database has every migration of `dirs` applied (a service's login role
    cannot apply them: `python -m infra prepare` or `python -m services.<name> migrate` does,
    and a process started beside it, as compose and `make run` start them, waits for it)."""
    wanted = migration_names(*dirs)
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        missing = wanted
        try:
            conn = await asyncpg.connect(dsn)
            try:
                done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            finally:
                await conn.close()
            missing = [name for name in wanted if name not in done]
            if not missing:
                return
            reason: object = f"migrations not applied: {', '.join(missing)}"
        except (*UNREACHABLE, *_NOT_YET) as exc:
            reason = repr(exc)
        if asyncio.get_running_loop().time() > deadline:
            raise SchemaNotReady(
                f"{urlsplit(dsn).path.lstrip('/')} is not ready ({reason}): run "
                "`python -m infra prepare` (or `python -m services.<name> migrate`) first"
            )
        log.warning("database schema not ready (%s); retrying in 1s", reason)
        await asyncio.sleep(1)


async def _private(conn: asyncpg.Connection) -> None:
    """Takes back PostgreSQL's default grants to PUBLIC on this database: CONNECT and TEMPORARY
    would let any login on the server (an analyst's, another service's) into every service's
    database and let it create temporary tables there. eventkit.roles.grant gives CONNECT
    back to the database's own logins; a migration grants it to another role that needs it
    (the projections' analytics migration, to coinstream_analyst). Run under the migration
    lock, since two concurrent GRANT/REVOKEs on one database fail with "tuple concurrently
    updated"."""
    if await conn.fetchval(
        "SELECT has_database_privilege('public', current_database(), 'CONNECT')"
        " OR has_database_privilege('public', current_database(), 'TEMPORARY')"
    ):
        name = await conn.fetchval("SELECT current_database()")
        await conn.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{name}" FROM PUBLIC')


async def owner_connect(settings: Settings, service: str) -> asyncpg.Connection:
    """A connection to `service`'s database as its owner role (admin credentials, then SET
    ROLE): for ops tools that change the schema at run time (the projections rebuild) and
    tests that do; what it creates is the owner's, and so covered by the default grants."""
    conn = await asyncpg.connect(settings.admin_database_for(service))
    await conn.execute(f'SET ROLE "{roles_for(settings, service).owner}"')
    return conn


async def init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects; Decimals become exact strings, never floats.
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="text",
        encoder=lambda v: orjson.dumps(v, default=_json_default).decode(),
        decoder=orjson.loads,
    )


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


Statement = tuple[str, Sequence]  # (SQL with $1.. placeholders, its arguments)
_PLACEHOLDER = re.compile(r"\$(\d+)")


def one_round_trip(*statements: Statement, returning: str = "SELECT 1") -> Statement:
    """Several data-modifying statements as the CTEs of one statement, so they cost one round
    trip instead of one each. Each keeps its own $1.. numbering (renumbered here); they all see
    the same snapshot, so none may depend on another's writes. `returning` is the final query
    and may read the CTEs by name (s0, s1, ...)."""
    sql = _combined(tuple((sql, len(params)) for sql, params in statements), returning)
    return sql, [arg for _, params in statements for arg in params]


@functools.cache
def _combined(statements: tuple[tuple[str, int], ...], returning: str) -> str:
    """The combined text, built once per shape (it is on every gift's path)."""
    parts, offset = [], 0
    for i, (sql, count) in enumerate(statements):
        parts.append(f"s{i} AS ({_shift(sql, offset)})")
        offset += count
    return f"WITH {', '.join(parts)} {returning}"


def _shift(sql: str, offset: int) -> str:
    return _PLACEHOLDER.sub(lambda m: f"${int(m[1]) + offset}", sql)


_NAME = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")  # :name, never a ::cast


def named(sql: str, **params) -> Statement:
    """A statement written with :name placeholders, as asyncpg's $1.. and its arguments: a long
    set-based statement reads by column name instead of by position."""
    text, names = _numbered(sql)
    missing = set(names) - params.keys()
    if missing or len(params) != len(names):
        raise KeyError(f"placeholders {sorted(names)} but parameters {sorted(params)}")
    return text, [params[n] for n in names]


@functools.cache
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return _NAME.sub(number, sql), tuple(names)


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, reset=_keep_session
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Replaces asyncpg's reset on release (`RESET ALL; UNLISTEN *; pg_advisory_unlock_all()`
    ...), one more round trip per request. Pooled connections carry no session state here:
    settings are SET LOCAL, locks are transaction locks, and whatever LISTENs or takes session
    locks (the relay, a rebuild) opens its own connection. asyncpg still rolls back a
    transaction left open before calling this."""


async def each_locked(
    pool: asyncpg.Pool,
    ids: list,
    lock: str,
    handle: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]],
) -> int:
    """For each id, in a transaction of its own: `lock` ($1 = the id, ending `FOR UPDATE SKIP
    LOCKED`) selects the row if it still qualifies, then `handle(conn, row)` runs while the
    lock is held. A second worker skips the row; a crash before the commit leaves it for the
    next run (so `handle` must call outside systems idempotently). Returns how many were handled."""
    handled = 0
    for id_ in ids:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(lock, id_)
            if row is not None:
                await handle(conn, row)
                handled += 1
    return handled
