"""The real renewal worker (`python -m services.gifting worker`) SIGKILLed again and again
while it renews a backlog of due subscriptions, restarted each time: every subscription is
renewed exactly once for its period (one debit, periods 1 and 2), whatever instant the kill
hit."""

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from infra.system import child_env, free_port
from services.gifting.api import create
from tests.support.apps import api_client, auth, new_id
from tests.support.wallets import fund_wallet

PRICE, FANS = 120, 120


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def test_sigkilled_worker_renews_each_subscription_once(client, prepared, pools):
    g = pools["gifting"]
    creator = new_id("star")
    h = auth(prepared, creator, roles=["creator"])
    r = await client.put(
        f"/v1/creators/{creator}/subscription-price", json={"coins": PRICE}, headers=h
    )
    assert r.status_code == 200, r.text
    fans = [new_id("fan") for _ in range(FANS)]
    for fan in fans:
        await fund_wallet(g, fan, 3 * PRICE)
        body = {"creator_id": creator, "coins": PRICE}
        r = await client.post("/v1/subscriptions", json=body, headers=auth(prepared, fan))
        assert r.status_code == 201, r.text
    # Their first period ended an hour ago, as if the worker had been down.
    past = datetime.now(UTC) - timedelta(hours=1)
    await g.execute(
        "UPDATE subscriptions SET period_end = $2, next_attempt_at = $2 WHERE creator_id = $1",
        creator,
        past,
    )

    async def renewed() -> int:
        return await g.fetchval(
            "SELECT count(*) FROM subscriptions WHERE creator_id = $1 AND period = 2", creator
        )

    env = child_env(prepared, GIFTING_WORKER_METRICS_PORT=str(free_port()))
    mid_run = 0  # kills that hit the worker with part of the backlog renewed
    for attempt in range(4):  # three kills mid-run, then one run left to finish
        last = attempt == 3
        before = await renewed()
        worker = subprocess.Popen(
            [sys.executable, "-m", "services.gifting", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            for _ in range(3000):  # until it renewed something (the last run: everything)
                now = await renewed()
                if (now == FANS if last else now > before) or worker.poll() is not None:
                    break
                await asyncio.sleep(0.02)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        mid_run += 0 < await renewed() < FANS
    assert await renewed() == FANS
    assert mid_run >= 1, "no kill hit the worker mid-backlog"
    rows = await g.fetch(
        "SELECT s.fan_id, w.balance, array_agg(p.period ORDER BY p.period) AS periods"
        " FROM subscriptions s JOIN wallets w ON w.user_id = s.fan_id"
        " JOIN subscription_periods p USING (subscription_id)"
        " WHERE s.creator_id = $1 GROUP BY s.fan_id, w.balance",
        creator,
    )
    assert len(rows) == FANS
    assert all(r["periods"] == [1, 2] and r["balance"] == PRICE for r in rows), [
        dict(r) for r in rows if r["periods"] != [1, 2] or r["balance"] != PRICE
    ][:3]
    ledger = await g.fetchval(
        "SELECT count(*) FROM wallet_ledger WHERE kind = 'subscription' AND user_id = ANY($1)",
        fans,
    )
    assert ledger == 2 * FANS
