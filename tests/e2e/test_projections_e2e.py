"""The read path of the running system: the read API answers from what the services did, the
worker's /metrics reports lag, and a rebuild while everything runs leaves the read models
agreeing with the services (reconciliation) and with themselves row for row."""

import asyncio

import httpx
import pytest

from eventkit.auth import mint_token
from eventkit.db import create_pool
from scripts import demo
from scripts.reconcile import reconcile
from services.projections.rebuild import rebuild
from tests.support.synthetic import snapshot

pytestmark = pytest.mark.e2e


async def until(fetch, predicate, timeout: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate(got := await fetch()):
        assert asyncio.get_running_loop().time() < deadline, f"last answer: {got}"
        await asyncio.sleep(0.3)
    return got


async def test_read_api_metrics_and_rebuild_on_the_running_system(system):
    settings = system.settings
    seen = await demo.main(
        settings,
        system.url("recharge"),
        system.url("gifting"),
        system.url("payout"),
        say=lambda *a: None,
    )
    fan, creator = seen["fan"], seen["creator"]
    api = system.url("projections")
    fan_auth = {"Authorization": f"Bearer {mint_token(settings, fan)}"}
    creator_auth = {"Authorization": f"Bearer {mint_token(settings, creator, ['creator'])}"}
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:

        async def get(path, headers):
            return (await http.get(path, headers=headers)).json()

        wallet = await get("/v1/wallet", fan_auth)
        final = seen["final_wallet"]  # after the room gift and the subscription too
        assert (wallet["purchased"], wallet["balance"]) == (3500, final["balance"])
        assert wallet["freshness"]["last_event_time"]
        # the sandbox provider settles the demo's payout within seconds: wait for it, so that
        # nothing moves during the rebuild below
        earnings = await until(
            lambda: get("/v1/earnings", creator_auth), lambda e: e["diamonds_paid"] == 2000
        )
        assert earnings["diamonds_earned"] == seen["earnings"]["diamonds_earned"]
        board = await get("/v1/streams/stream-1/leaderboard?limit=100", fan_auth)
        assert fan in [g["sender_id"] for g in board["gifters"]]
        statement = await get("/v1/wallet/statement", fan_auth)
        # the demo's story: bundles bought, gifts (one to a room), a month's subscription
        kinds = {line["kind"] for line in statement["lines"]}
        assert kinds == {"purchase", "gift", "subscription"}

        metrics = await until(
            lambda: http.get(f"http://127.0.0.1:{system.metrics_port}/metrics"),
            lambda r: "last_event_time_seconds" in r.text,
        )
        assert "coinstream_projections_consumer_lag_total" in metrics.text

    pool = await create_pool(settings.database_for("projections"), max_size=2)
    try:

        async def settled():
            return (await reconcile(settings)).discrepancies

        await until(settled, lambda found: not found)
        before = await snapshot(pool)
        await rebuild(settings)
        assert await snapshot(pool) == before
        assert (await reconcile(settings)).discrepancies == []
    finally:
        await pool.close()
