"""Idempotent commands: a (caller, Idempotency-Key) pair runs once; retries get the first answer.

The key row is inserted in the same transaction as the command's effect. A concurrent retry
blocks on the key's unique index until the first commits, then replays its stored response; a
refused command rolls back its key too, so a retry is evaluated afresh.
"""

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import orjson
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from eventkit.problems import IdempotencyKeyReused, MissingIdempotencyKey

M = TypeVar("M", bound=BaseModel)
Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, dict[str, Any]]]]


def request_hash(route: str, body: Any) -> str:
    return hashlib.sha256(route.encode() + b"\0" +
                          orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def run_once(pool: asyncpg.Pool, caller: str, key: str, fingerprint: str,
                   work: Work) -> tuple[int, dict[str, Any], bool]:
    """Returns (status, response body, replayed)."""
    async with pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            "INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true", caller, key, fingerprint)
        if not fresh:
            row = await conn.fetchrow(
                "SELECT request_hash, status_code, response FROM idempotency_keys"
                " WHERE caller = $1 AND key = $2", caller, key)
            if row["request_hash"] != fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was first used with a different request body")
            return row["status_code"], row["response"], True
        status, body = await work(conn)
        await conn.execute(
            "UPDATE idempotency_keys SET status_code = $3, response = $4"
            " WHERE caller = $1 AND key = $2", caller, key, status, body)
        return status, body, False


async def idempotency_key(
    idempotency_key: Annotated[str | None, Header(
        description="Client-chosen unique key; a retry with the same key and body replays "
                    "the first response", min_length=1, max_length=200)] = None,
) -> str:
    if idempotency_key is None:
        raise MissingIdempotencyKey()
    return idempotency_key


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


async def respond_once(request: Request, response: Response, caller: str, key: str,
                       body: BaseModel, work: Work, model: type[M]) -> M:
    """run_once for a FastAPI route: fingerprints method + path + body, sets the stored status
    and an `Idempotent-Replayed: true` header on replays, and returns the response model."""
    fingerprint = request_hash(f"{request.method} {request.url.path}", body.model_dump(mode="json"))
    status, out, replayed = await run_once(request.app.state.pool, caller, key, fingerprint, work)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return model.model_validate(out)
