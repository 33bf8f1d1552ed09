"""Typed FastAPI dependencies on what a service's app holds (like auth.CallerDep): a route names
`pool: PoolDep` or `now: ClockDep` instead of reading `request.app.state` untyped."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


# async, though they do no I/O: FastAPI runs a plain `def` dependency in a worker thread.
async def pool(request: Request) -> asyncpg.Pool:
    """The service's database pool (opened by the app's lifespan, eventkit.http)."""
    return request.app.state.pool


async def now(request: Request) -> datetime:
    """The time by the app's clock (`app.state.clock`, which tests replace to move time), read
    once per request."""
    clock: Clock = getattr(request.app.state, "clock", system_clock)
    return clock()


PoolDep = Annotated[asyncpg.Pool, Depends(pool)]
ClockDep = Annotated[datetime, Depends(now)]
