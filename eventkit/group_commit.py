"""Group commit: concurrent commands arriving at one process are coalesced into batches, and
each batch is handled by one call (one transaction, set-based SQL) instead of one per command.

A batch is flushed as soon as the queue has drained (nothing is held back waiting for company),
so a lone command goes at once and a storm fills batches by itself: while one batch is in the
database, the next one gathers. Each command still gets its own outcome: the flush returns one
result or exception per command, in order. When a whole flush fails (a database error), every
command of a batch of several is retried alone, so one bad command cannot fail the others.

Two commands with the same `key` (e.g. one Idempotency-Key sent twice at once) never share a
batch: the second waits for the next one, where it finds the first's stored answer.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from eventkit import tracing

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R")
Flush = Callable[[list[C]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[C, R]):
    def __init__(
        self, flush: Flush, key: Callable[[C], Hashable], *, max_batch: int = 256, flushers: int = 2
    ):
        self._flush, self._key = flush, key
        self.max_batch, self.flushers = max_batch, flushers
        self._queue: deque[tuple[C, asyncio.Future]] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        # The request context of each queued command when tracing is on (by its future), so the
        # rows a batch writes carry their own request's trace (eventkit.tracing.batch).
        self._traces: dict[int, str] = {}

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"group-commit-{i}") for i in range(self.flushers)
        ]

    async def stop(self) -> None:
        """Flushes what is queued, then stops the flushers."""
        while self._queue:
            await asyncio.sleep(0.001)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def submit(self, command: C) -> R:
        if not self._tasks:
            raise RuntimeError("GroupCommit not started")
        future = asyncio.get_running_loop().create_future()
        if traceparent := tracing.current_traceparent():  # None unless tracing is on
            self._traces[id(future)] = traceparent
        self._queue.append((command, future))
        self._ready.set()
        return await asyncio.shield(future)  # a client that hangs up does not cancel the batch

    async def _run(self) -> None:
        while True:
            batch = await self._take()
            try:
                await self._settle(batch)
            except Exception:  # noqa: BLE001 - never lose a flusher; each future has its answer
                log.exception("group commit flusher failed")

    async def _take(self) -> list[tuple[C, asyncio.Future]]:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        await asyncio.sleep(0)  # let requests already parsed reach the queue
        batch: list[tuple[C, asyncio.Future]] = []
        later: list[tuple[C, asyncio.Future]] = []
        keys: set[Hashable] = set()
        while self._queue and len(batch) < self.max_batch:
            item = self._queue.popleft()
            key = self._key(item[0])
            if key in keys:
                later.append(item)
            else:
                keys.add(key)
                batch.append(item)
        self._queue.extendleft(reversed(later))
        if self._queue:
            self._ready.set()
        return batch

    async def _settle(self, batch: list[tuple[C, asyncio.Future]]) -> None:
        traces = {self._key(c): self._traces.get(id(f)) for c, f in batch} if self._traces else {}
        try:
            with tracing.batch(traces):
                outcomes = await self._flush([command for command, _ in batch])
        except Exception as exc:  # noqa: BLE001 - decided below, per command
            if len(batch) == 1:
                self._traces.pop(id(batch[0][1]), None)
                _answer(batch[0][1], exc)
                return
            log.warning("batch of %d failed (%r); retrying each alone", len(batch), exc)
            for item in batch:
                await self._settle([item])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            self._traces.pop(id(future), None)
            _answer(future, outcome)


def _answer(future: asyncio.Future, outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
