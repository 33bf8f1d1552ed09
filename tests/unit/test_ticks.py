"""The workers' loop (eventkit.ticks.every): a tick that fails on the network or the database
is logged and tried again at the next interval; what a tick moved is logged; any other error
ends the loop."""

import logging

import asyncpg
import pytest

from eventkit.ticks import every

LOG = logging.getLogger("tests.ticks")


async def test_a_transient_failure_is_retried_and_a_bug_ends_the_loop(caplog) -> None:
    outcomes = [
        OSError("connection refused"),
        asyncpg.exceptions.SerializationError("could not serialize"),
        {"expired": 0, "refunded": 0},
        {"expired": 2, "refunded": 0},
        KeyError("bug"),
    ]
    calls = 0

    async def tick() -> dict[str, int]:
        nonlocal calls
        outcome, calls = outcomes[calls], calls + 1
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    caplog.set_level(logging.INFO, logger=LOG.name)
    with pytest.raises(KeyError):
        await every(0, tick, LOG)
    assert calls == len(outcomes)
    assert [(r.levelname, r.getMessage().split(" (")[0]) for r in caplog.records] == [
        ("WARNING", "worker tick failed"),
        ("WARNING", "worker tick failed"),
        ("INFO", "worker tick: {'expired': 2, 'refunded': 0}"),
    ]
