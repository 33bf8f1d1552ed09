"""The workers' loop: a tick of idempotent batch steps every interval, for as long as the
process runs. Every step is safe to repeat, so a tick that fails on the network or the database
(an outage, a failover) is logged and simply tried again at the next interval; any other error
is a bug and ends the process (the supervisor restarts it)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

import asyncpg

TRANSIENT = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def every(
    interval: float, tick: Callable[[], Awaitable[dict[str, int]]], log: logging.Logger
) -> NoReturn:
    """Runs `tick` (which returns how many items each step moved) every `interval` seconds,
    logging a tick that moved anything."""
    while True:
        try:
            done = await tick()
            if any(done.values()):
                log.info("worker tick: %s", done)
        except TRANSIENT as exc:
            log.warning("worker tick failed (%r); retrying", exc)
        await asyncio.sleep(interval)
