"""What the gift and unlock batchers share around their batches: the queue each route submits
to (eventkit.group_commit, one command per claimed key in a batch) and the HTTP answer of an
outcome."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import orjson
from fastapi import Response

from eventkit.group_commit import GroupCommit
from eventkit.problems import DomainError
from services.gifting.spend_decide import Command, Outcome

C = TypeVar("C", bound=Command)
RunBatch = Callable[[asyncpg.Pool, list[C]], Awaitable[list[Outcome]]]


def batcher(
    pool: asyncpg.Pool, run_batch: RunBatch, max_batch: int = 256, flushers: int = 2
) -> GroupCommit[C, Outcome]:
    async def flush(commands: list[C]) -> list[Outcome]:
        return await run_batch(pool, commands)

    return GroupCommit(flush, key=lambda c: c.claim, max_batch=max_batch, flushers=flushers)


def respond(outcome: Outcome) -> Response:
    """The route's answer: the refusal raised (a problem response), or the body as the batch
    built it from typed values (or the stored answer of one), sent as it is, without FastAPI
    validating and encoding it again."""
    if isinstance(outcome, DomainError):
        raise outcome
    status, body, replayed = outcome
    return Response(
        orjson.dumps(body),
        status,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )
