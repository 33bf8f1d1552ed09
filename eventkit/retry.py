"""Retrying a batch's database work until it succeeds: a consumer must neither skip a batch nor
spin on one while PostgreSQL is away, so it waits 0.2 s, then twice as long each time, at most
5 s, between tries."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def with_backoff(
    attempt: Callable[[], Awaitable[T]],
    retryable: Callable[[Exception], bool],
    log: logging.Logger,
    first: float = 0.2,
    most: float = 5.0,
) -> T:
    """attempt()'s result, calling it again after each failure `retryable` accepts; any other
    failure escapes at once."""
    delay = first
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not retryable(exc):
                raise
            log.warning("transient error (%r); retrying batch in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, most)
