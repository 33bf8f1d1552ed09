"""Idempotent commands: a (caller, Idempotency-Key) pair runs once; retries get the first answer.

The key row is inserted in the same transaction as the command's effect. A concurrent retry
blocks on the key's unique index until the first commits, then replays its stored response; a
refused command rolls back its key too, so a retry is evaluated afresh.

`run_once` spends two round trips of its own (claim the key, store the response). Gifts and
unlocks claim and store keys for a whole batch with set-based statements instead
(services/gifting/spend_store.py), under the same rules and the same `fingerprint`.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import orjson
from fastapi import Header, Request, Response
from pydantic import BaseModel

from eventkit.problems import IdempotencyKeyReused

M = TypeVar("M", bound=BaseModel)
Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, dict[str, Any]]]]

# Waits on the unique index while a concurrent request with the same key is in flight; returns
# a row only when this request is the first.
CLAIM = (
    "INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3)"
    " ON CONFLICT DO NOTHING RETURNING true"
)
SAVE = "UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE caller = $1 AND key = $2"


def fingerprint(request: Request, body: BaseModel) -> str:
    """What a key's first use is compared with: method + path + the validated body."""
    return request_hash(f"{request.method} {url_path(request.scope)}", body.model_dump(mode="json"))


def url_path(scope) -> str:
    """`request.url.path` without building the URL (Starlette parses the Host header and the
    query for it): the scope's path with the three characters its URL escapes escaped alike,
    so a key stored before still matches."""
    return scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def request_hash(route: str, body: Any) -> str:
    try:
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits, which orjson cannot write: the route refuses
        # or answers it, so it still needs a fingerprint (stdlib json writes any int)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(route.encode() + b"\0" + canonical).hexdigest()


async def run_once(
    pool: asyncpg.Pool, caller: str, key: str, fingerprint: str, work: Work
) -> tuple[int, dict[str, Any], bool]:
    """Returns (status, response body, replayed)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(CLAIM, caller, key, fingerprint):
            return await _replay(conn, caller, key, fingerprint)
        status, body = await work(conn)
        await conn.execute(SAVE, caller, key, status, body)
        return status, body, False


async def _replay(
    conn: asyncpg.Connection, caller: str, key: str, fingerprint: str
) -> tuple[int, dict[str, Any], bool]:
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM idempotency_keys"
        " WHERE caller = $1 AND key = $2",
        caller,
        key,
    )
    if row["request_hash"] != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first used with a different request body"
        )
    return row["status_code"], row["response"], True


# The header itself rather than a dependency that reads it (FastAPI resolves each dependency
# per request): any parameter of this type reads `Idempotency-Key`, whatever its name.
IdempotencyKey = Annotated[
    str,
    Header(
        alias="idempotency-key",
        description="Client-chosen unique key; a retry with the same key and body replays "
        "the first response. Required: without it the command is refused with 400 "
        "`idempotency-key-required`",
        min_length=1,
        max_length=200,
    ),
]


async def respond_once(
    request: Request,
    response: Response,
    caller: str,
    key: str,
    body: BaseModel,
    work: Work,
    model: type[M],
) -> M:
    """run_once for a FastAPI route: fingerprints method + path + body, sets the stored status
    and an `Idempotent-Replayed: true` header on replays, and returns the response model."""
    status, out, replayed = await run_once(
        request.app.state.pool, caller, key, fingerprint(request, body), work
    )
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return model.model_validate(out)
