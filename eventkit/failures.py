"""Which failures retrying can fix. A consumer retries a transient failure (the database or the
network is away, a transaction lost a race) for as long as it takes; a permanent one is caused by
the message itself (a value PostgreSQL refuses, a constraint it breaks), so the same message
fails the same way forever: it goes to the dead-letter topic and the consumer goes on.

Pure: classifies an exception, does no I/O.
"""

import asyncio

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base

# asyncpg could not encode an argument (e.g. an int beyond bigint). It derives from
# InterfaceError, but it is about the value, not the connection. (asyncpg.DataError, the
# server's SQLSTATE class 22, is another class.)
ArgumentError = asyncpg_base.DataError

# SQLSTATE classes a message's payload causes: 22 data exception (out of range, bad encoding,
# invalid text), 23 integrity constraint violation, 54 program limit exceeded (a value too big
# for an index row). Everything else a server answers (08 connection, 40 serialization failure
# and deadlock, 53 insufficient resources, 57 operator intervention, 58 system error, 55 lock
# not available, and 42/3D/3F/28 when a deployment is half done) passes when retried later.
PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})


def is_permanent(exc: BaseException) -> bool:
    """True when retrying the same message cannot succeed."""
    if isinstance(exc, ArgumentError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "")[:2] in PERMANENT_SQLSTATE_CLASSES
    if isinstance(
        exc,
        (
            OSError,
            asyncio.TimeoutError,
            asyncpg.InterfaceError,
            ConnectionError,
            asyncio.CancelledError,
        ),
    ):
        return False
    # Anything else a handler raises (a payload that fails a model on the way out, arithmetic
    # on its values) is deterministic in the message: retrying would stall every message after.
    return isinstance(exc, Exception)


def describe(exc: BaseException) -> str:
    """The dead-letter reason for a permanent failure."""
    state = getattr(exc, "sqlstate", None)
    return f"cannot apply: {type(exc).__name__}" + (f" [{state}]" if state else "") + f": {exc}"
