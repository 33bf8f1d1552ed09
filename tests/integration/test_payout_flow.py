"""The payout worker's jobs against real PostgreSQL, in a namespace of their own (they sweep
every payout and credit in the database): provider settlement through signed callbacks,
provider failure, settlement timeout, and the release of reserves on schedule."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.payout.conversion import load_config
from services.payout.ledger import release_due
from services.payout.lifecycle import void_overdue
from services.payout.provider import (
    SIGNATURE_HEADER,
    PayoutOrder,
    SandboxProvider,
    http_deliver,
    sign,
)
from services.payout.settings import PayoutSettings
from services.payout.worker import tick
from tests.support.apps import auth, new_id
from tests.support.creators import consume, fund_creator, gift_sent, payout_app

BANK = {"kind": "bank", "account_holder": "Ada", "iban": "DE89370400440532013000"}


@pytest.fixture(scope="module")
async def flow(namespace):
    settings = await namespace("flow")
    async with payout_app(settings) as (client, app):
        yield settings, client, app.state.pool


async def requested(settings, client, pool, diamonds=2000, funded=5000) -> tuple[str, str]:
    creator = new_id("cr")
    await fund_creator(settings, pool, creator, funded)
    assert (
        await client.put("/v1/payout-method", json=BANK, headers=auth(settings, creator))
    ).status_code == 200
    r = await client.post(
        "/v1/payouts",
        json={"diamonds": diamonds, "rates_version": 1},
        headers=auth(settings, creator),
    )
    assert r.status_code == 201, r.text
    return creator, r.json()["payout_id"]


def sandbox(client, pool, outcome: str, delay_seconds: float = 0) -> SandboxProvider:
    return SandboxProvider(
        pool,
        PayoutSettings().callback_secret,
        http_deliver(client, "/v1/callbacks/sandbox"),
        outcome=outcome,
        failure_detail="beneficiary account closed",
        delay_seconds=delay_seconds,
    )


async def state(settings, client, creator, pid) -> tuple[str, dict]:
    p = await client.get(f"/v1/payouts/{pid}", headers=auth(settings, creator))
    e = await client.get("/v1/earnings", headers=auth(settings, creator))
    return p.json()["status"], e.json()


async def types(pool, creator) -> list[str]:
    return [
        r["event_type"]
        for r in await pool.fetch(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
            f"creator-{creator}",
        )
    ]


async def test_sandbox_success_settles_through_a_signed_callback_once(flow):
    settings, client, pool = flow
    creator, pid = await requested(settings, client, pool)
    provider = sandbox(client, pool, "success")
    assert (await tick(pool, provider, datetime.now(UTC)))["submitted"] >= 1
    await provider.drain()
    status, e = await state(settings, client, creator, pid)
    assert status == "completed" and (e["pending"], e["paid"], e["available"]) == (0, 2000, 3000)
    await provider.submit(order(pid, creator))
    await provider.drain()  # same payout again: no second callback, nothing moves
    assert (await state(settings, client, creator, pid))[1]["paid"] == 2000
    assert (await types(pool, creator))[-3:] == [
        "PayoutRequested",
        "PayoutSubmitted",
        "PayoutCompleted",
    ]


class CallsBackBeforeReturning:
    """A provider whose callback lands before submit() returns (the sandbox with no delay,
    plus a pause): the callback must wait for the worker's mark, not overtake it."""

    name = "sandbox"

    def __init__(self, inner: SandboxProvider):
        self.inner = inner

    async def submit(self, order: PayoutOrder) -> str:
        ref = await self.inner.submit(order)
        await asyncio.sleep(0.3)
        return ref


async def test_a_callback_faster_than_the_mark_waits_for_it(flow):
    settings, client, pool = flow
    creator, pid = await requested(settings, client, pool)
    provider = sandbox(client, pool, "success")
    assert (await tick(pool, CallsBackBeforeReturning(provider), datetime.now(UTC)))[
        "submitted"
    ] >= 1
    await provider.drain()
    assert (await state(settings, client, creator, pid))[0] == "completed"
    assert (await types(pool, creator))[-3:] == [
        "PayoutRequested",
        "PayoutSubmitted",
        "PayoutCompleted",
    ]


def order(pid, creator) -> PayoutOrder:
    return PayoutOrder(pid, creator, 1000, "USD", "bank")


async def test_sandbox_failure_returns_the_diamonds_with_the_reason(flow):
    settings, client, pool = flow
    creator, pid = await requested(settings, client, pool)
    provider = sandbox(client, pool, "failure")
    await tick(pool, provider, datetime.now(UTC))
    await provider.drain()
    status, e = await state(settings, client, creator, pid)
    assert status == "failed" and (e["pending"], e["paid"], e["available"]) == (0, 0, 5000)
    row = await pool.fetchrow(
        "SELECT envelope FROM events WHERE stream_id = $1 AND event_type = 'PayoutFailed'",
        f"creator-{creator}",
    )
    assert (row["envelope"]["data"]["reason"], row["envelope"]["data"]["detail"]) == (
        "provider_failure",
        "beneficiary account closed",
    )


async def test_unsettled_payout_is_voided_after_the_timeout_and_late_callback_changes_nothing(flow):
    settings, client, pool = flow
    creator, pid = await requested(settings, client, pool)
    timeout = timedelta(seconds=load_config().settle_timeout_seconds)
    now = datetime.now(UTC)
    assert await void_overdue(pool, now + timeout - timedelta(minutes=1)) == 0
    assert await void_overdue(pool, now + timeout + timedelta(minutes=1)) >= 1
    assert await void_overdue(pool, now + timeout + timedelta(minutes=2)) == 0
    status, e = await state(settings, client, creator, pid)
    assert status == "voided" and (e["pending"], e["available"]) == (0, 5000)
    late = sandbox(client, pool, "success")
    body = late.callback_body(order(pid, creator), "sbx-late")
    r = await client.post(
        "/v1/callbacks/sandbox",
        content=body,
        headers={SIGNATURE_HEADER: sign(PayoutSettings().callback_secret, body)},
    )
    assert (r.status_code, r.json()["status"], r.json()["applied"]) == (200, "voided", False)
    assert (await types(pool, creator)).count("PayoutFailed") == 1


async def test_reserve_is_released_once_when_its_window_ends(flow):
    settings, client, pool = flow
    creator = new_id("cr")
    earned_at = datetime.now(UTC) + timedelta(days=30)  # beyond the other tests' sweeps
    await consume(
        settings,
        pool,
        gift_sent(creator, 1000, time=earned_at),
        gift_sent(creator, 555, time=earned_at + timedelta(hours=1)),
    )
    e = (await client.get("/v1/earnings", headers=auth(settings, creator))).json()
    assert (e["earned"], e["held"], e["available"]) == (1555, 155, 1400)
    window = timedelta(hours=load_config().reserve.window_hours)
    assert await release_due(pool, earned_at + window - timedelta(seconds=1)) == 0
    assert await release_due(pool, earned_at + window) == 100
    assert await release_due(pool, earned_at + window + timedelta(hours=2)) == 55
    assert await release_due(pool, earned_at + window + timedelta(days=9)) == 0
    e = (await client.get("/v1/earnings", headers=auth(settings, creator))).json()
    assert (e["held"], e["available"]) == (0, 1555)
    assert (await types(pool, creator)).count("DiamondsReleased") == 2


async def test_callbacks_racing_the_timeout_void_leave_exactly_one_outcome(flow):
    settings, client, pool = flow
    creator, pid = await requested(settings, client, pool)
    slow = sandbox(client, pool, "success", delay_seconds=3600)  # this test plays them itself
    assert (await tick(pool, slow, datetime.now(UTC)))["submitted"] >= 1
    ref = await pool.fetchval(
        "SELECT provider_ref FROM payouts WHERE payout_id = $1", uuid.UUID(pid)
    )
    for task in slow.tasks:
        task.cancel()
    bodies = [
        sandbox(client, pool, outcome).callback_body(order(pid, creator), ref)
        for outcome in ("success", "failure") * 25
    ]
    secret = PayoutSettings().callback_secret
    overdue = datetime.now(UTC) + timedelta(seconds=load_config().settle_timeout_seconds + 60)
    results = await asyncio.gather(
        *(
            client.post(
                "/v1/callbacks/sandbox", content=b, headers={SIGNATURE_HEADER: sign(secret, b)}
            )
            for b in bodies
        ),
        *(void_overdue(pool, overdue) for _ in range(10)),
    )
    replies, voids = results[: len(bodies)], results[len(bodies) :]
    assert {r.status_code for r in replies} == {200}
    assert sum(r.json()["applied"] for r in replies) + sum(voids) == 1
    status, e = await state(settings, client, creator, pid)
    assert status in ("completed", "failed", "voided") and e["pending"] == 0
    assert e["paid"] == (2000 if status == "completed" else 0)
    outcomes = [t for t in await types(pool, creator) if t in ("PayoutCompleted", "PayoutFailed")]
    assert len(outcomes) == 1


async def test_a_callback_lost_with_its_worker_is_redelivered_by_the_next_one(flow):
    """The sandbox keeps its callbacks in the payout database: if the API does not answer and
    the worker that accepted the payout dies, a restarted worker delivers it."""
    settings, client, pool = flow
    creator, pid = await requested(settings, client, pool)

    async def api_down(body, headers):
        raise httpx.ConnectError("connection refused")

    dying = SandboxProvider(
        pool, PayoutSettings().callback_secret, api_down, delay_seconds=0, retry_seconds=0.2
    )
    assert (await tick(pool, dying, datetime.now(UTC)))["submitted"] >= 1
    await dying.drain()
    assert (await state(settings, client, creator, pid))[0] == "submitted"
    restarted = sandbox(client, pool, "success")  # a new process: nothing in memory
    await asyncio.sleep(0.3)  # the backoff after the failed attempt
    assert await restarted.deliver_due() >= 1
    status, e = await state(settings, client, creator, pid)
    assert status == "completed" and (e["pending"], e["paid"]) == (0, 2000)
    assert await restarted.deliver_due() == 0  # delivered: never sent again
