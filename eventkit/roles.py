"""The PostgreSQL roles of a service's database, made and kept by its migration step.

Per service and db_prefix (roles are cluster-wide, so the names carry the prefix):
- `<prefix>_<service>_owner`, NOLOGIN: owns the database and every object in it; migrations run
  under it (the admin connection does SET ROLE), so nobody ever logs in with DDL rights;
- `<prefix>_<service>`, LOGIN: what the service runs as: CONNECT on its own database only, DML
  on its tables, USAGE on its sequences, EXECUTE on its functions, no CREATE anywhere;
- in projections, `<prefix>_projections_reader`, LOGIN: the read API, SELECT only;
- `<prefix>_auditor`, LOGIN: the reconciler, SELECT on every service database.
The login passwords are the secrets `<login>_database_password` (eventkit.secrets), set again
by every migration step so a rotated secret takes effect at the next `prepare`. None of these
roles is a superuser or may create databases or roles.
"""

from dataclasses import dataclass

import asyncpg

from eventkit.secrets import secret
from eventkit.settings import Settings

READER = "projections_reader"  # the read API's login (database_for("projections", READER))
AUDITOR = "auditor"  # reads every service database (scripts/reconcile.py)
_NOTHING = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
# Cluster-wide role changes take turns (advisory locks are per database: taken in `postgres`).
_ROLES_LOCK = 0x0C01_5EA4


@dataclass(frozen=True)
class Roles:
    owner: str
    login: str
    readers: tuple[str, ...]  # read-only logins of this database (auditor, the read API)

    @property
    def logins(self) -> tuple[str, ...]:
        return (self.login, *self.readers)


def roles_for(settings: Settings, service: str) -> Roles:
    prefix = settings.db_prefix
    readers = (f"{prefix}_{AUDITOR}",) + (
        (f"{prefix}_{READER}",) if service == "projections" else ()
    )
    return Roles(f"{prefix}_{service}_owner", f"{prefix}_{service}", readers)


def login_secrets(service: str) -> dict[str, str]:
    """The secret name of each login suffix this service's database has."""
    logins = [service, AUDITOR] + ([READER] if service == "projections" else [])
    return {login: f"{login}_database_password" for login in logins}


def all_secret_names(services) -> list[str]:
    return sorted({name for s in services for name in login_secrets(s).values()})


async def ensure_roles(admin: asyncpg.Connection, settings: Settings, service: str) -> Roles:
    """Creates the service's roles when missing and sets their attributes and passwords
    (`admin`: a superuser connection to any database, preferably `postgres`)."""
    roles = roles_for(settings, service)
    await admin.execute("SELECT pg_advisory_lock($1)", _ROLES_LOCK)
    try:
        await _role(admin, roles.owner, f"NOLOGIN {_NOTHING}")
        for login, name in login_secrets(service).items():
            role = f"{settings.db_prefix}_{login}"
            await _role(admin, role, f"LOGIN NOINHERIT {_NOTHING}")
            password = secret(settings, name)
            await admin.execute(
                await admin.fetchval(
                    "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password
                )
            )
        # The analysts' group role the projections migrations grant to (made here, since the
        # owner running them may not create roles).
        await _role(admin, "coinstream_analyst", f"NOLOGIN {_NOTHING}")
    finally:
        await admin.execute("SELECT pg_advisory_unlock($1)", _ROLES_LOCK)
    return roles


async def _role(admin: asyncpg.Connection, name: str, attributes: str) -> None:
    if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
        try:
            await admin.execute(f'CREATE ROLE "{name}" {attributes}')
            return
        except asyncpg.DuplicateObjectError:
            pass  # made meanwhile by a session on another prefix's lock (coinstream_analyst)
    await admin.execute(f'ALTER ROLE "{name}" {attributes}')


async def drop_roles(admin: asyncpg.Connection, settings: Settings, services) -> None:
    """Drops the prefix's roles (after its databases, where their grants lived)."""
    names = {
        n for s in services for n in (roles_for(settings, s).owner, *roles_for(settings, s).logins)
    }
    for name in sorted(names):
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')


# Objects made before the owner role existed (a dev cache's databases, owned by the superuser)
# are handed to it. Extension members and the system schemas are left alone; an owned sequence
# follows its table; `public` belongs to pg_database_owner (PostgreSQL 15+), i.e. the owner.
_ADOPT = r"""
DO $$
DECLARE
    owner oid := %(owner)s::regrole;
    r record;
BEGIN
    FOR r IN SELECT n.nspname FROM pg_namespace n
             WHERE n.nspname NOT LIKE 'pg\_%%' AND n.nspname NOT IN ('information_schema', 'public')
               AND n.nspowner <> owner
    LOOP
        EXECUTE format('ALTER SCHEMA %%I OWNER TO %(owner_ident)s', r.nspname);
    END LOOP;
    FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT LIKE 'pg\_%%' AND n.nspname <> 'information_schema'
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> owner
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                 AND d.deptype IN ('a', 'i', 'e'))
             ORDER BY c.relkind = 'S'
    LOOP
        EXECUTE format('ALTER %%s %%s OWNER TO %(owner_ident)s',
                       CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE'
                                      ELSE 'TABLE' END,
                       r.rel);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname NOT LIKE 'pg\_%%' AND n.nspname <> 'information_schema'
               AND p.proowner <> owner
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                               WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                 AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER ROUTINE %%s OWNER TO %(owner_ident)s', r.fn);
    END LOOP;
    FOR r IN SELECT t.oid::regtype AS ty FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname NOT LIKE 'pg\_%%' AND n.nspname <> 'information_schema'
               AND t.typowner <> owner AND t.typtype IN ('e', 'd', 'r', 'm')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                               WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                 AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER TYPE %%s OWNER TO %(owner_ident)s', r.ty);
    END LOOP;
END $$
"""


async def adopt(admin: asyncpg.Connection, owner: str) -> None:
    """Hands every object of the connected database not owned by `owner` to it (idempotent;
    `admin`: a superuser, since only one may take objects from another role)."""
    ident = await admin.fetchval("SELECT quote_ident($1)", owner)
    literal = await admin.fetchval("SELECT quote_literal($1)", owner)
    await admin.execute(_ADOPT % {"owner": literal, "owner_ident": ident})


async def grant(conn: asyncpg.Connection, roles: Roles) -> None:
    """The login roles' rights on the connected database, run as its owner after migrating:
    on what exists now and, by default privileges, on whatever the owner creates later (a
    rebuild's tables, the next migration's)."""
    db = await conn.fetchval("SELECT quote_ident(current_database())")
    login = f'"{roles.login}"'
    readers = ", ".join(f'"{r}"' for r in roles.readers)
    everyone = f"{login}, {readers}"
    schemas = [
        r["nspname"]
        for r in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
            " AND nspname <> 'information_schema'"
        )
    ]
    statements = [f"GRANT CONNECT ON DATABASE {db} TO {everyone}"]
    for schema in schemas:
        s = f'"{schema}"'
        statements += [
            f"GRANT USAGE ON SCHEMA {s} TO {everyone}",
            f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC, {everyone}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {login}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {login}",
            f"GRANT EXECUTE ON ALL ROUTINES IN SCHEMA {s} TO {login}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {readers}",
        ]
    owner = f'"{roles.owner}"'
    statements += [
        # The migration record is read (services wait for it) but written only by the owner.
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM {login}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT USAGE ON SCHEMAS TO {everyone}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner}"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {login}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT USAGE ON SEQUENCES TO {login}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT EXECUTE ON ROUTINES TO {login}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON TABLES TO {readers}",
    ]
    await conn.execute(";\n".join(statements))
