"""Idempotent commands whose answer reveals a secret once (a client secret, a consent token):
the stored answer lacks it, so no plain secret is ever written to idempotency_keys; the first
answer adds it and a replay has none (the field null)."""

from typing import TypeVar

import asyncpg
from fastapi import Request, Response
from pydantic import BaseModel

from eventkit.idempotency import Work, fingerprint, run_once

M = TypeVar("M", bound=BaseModel)


async def respond_revealing(
    pool: asyncpg.Pool,
    request: Request,
    response: Response,
    caller: str,
    key: str,
    body: BaseModel,
    work: Work,
    model: type[M],
    field: str,
    secret: str,
) -> M:
    """eventkit.idempotency.respond_once, with `secret` added as `field` to the first answer."""
    status, out, replayed = await run_once(pool, caller, key, fingerprint(request, body), work)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
        return model.model_validate(out)
    return model.model_validate({**out, field: secret})
