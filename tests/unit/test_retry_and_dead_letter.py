"""The two pieces every consumer and the projections worker share: the backoff a batch's
database work is retried with, and the headers a dead-lettered message carries."""

import logging

import pytest

from eventkit.deadletter import dead_letter_headers
from eventkit.retry import with_backoff

LOG = logging.getLogger("tests.retry")


async def test_retryable_failures_back_off_doubling_up_to_the_most(caplog) -> None:
    failures = [ConnectionError("down")] * 5
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop()
        return "applied"

    caplog.set_level(logging.WARNING, logger=LOG.name)
    result = await with_backoff(
        attempt, lambda exc: isinstance(exc, ConnectionError), LOG, first=0.001, most=0.004
    )
    assert (result, calls) == ("applied", 6)
    delays = [r.args[1] for r in caplog.records]  # the sleep before each retry
    assert delays == [0.001, 0.002, 0.004, 0.004, 0.004]


async def test_a_failure_that_is_not_retryable_escapes_at_once() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("the message itself")

    with pytest.raises(ValueError):
        await with_backoff(attempt, lambda exc: isinstance(exc, ConnectionError), LOG)
    assert calls == 1


def test_dead_letter_headers_say_why_where_and_who() -> None:
    headers = dict(dead_letter_headers("x" * 5000, "p-coinstream.recharge", 3, 42, "p-gifting"))
    assert headers == {
        "reason": b"x" * 4000,
        "topic": b"p-coinstream.recharge",
        "partition": b"3",
        "offset": b"42",
        "consumer": b"p-gifting",
    }
