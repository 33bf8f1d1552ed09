"""The whole system as processes over real Kafka and PostgreSQL, driven over HTTP."""

import asyncio
import signal
import uuid

import asyncpg
import httpx
import pytest

from scripts import demo
from scripts.reconcile import reconcile
from tests.support.apps import auth, new_id

pytestmark = pytest.mark.e2e


async def test_purchase_gift_payout_flow_reaches_every_service_and_read_model(system):
    seen = await demo.main(
        system.settings,
        system.url("recharge"),
        system.url("gifting"),
        system.url("payout"),
        say=lambda *a: None,
    )
    assert {k: seen["wallet"][k] for k in ("purchased", "gifted", "balance", "events")} == {
        "purchased": 3500,
        "gifted": 3000,
        "balance": 500,
        "events": 2,
    }
    assert {k: seen["earnings"][k] for k in ("gifts_received", "diamonds_earned")} == {
        "gifts_received": 1,
        "diamonds_earned": 3000,
    }
    # requested, then settled by the sandbox provider within seconds: pending or paid
    assert seen["earnings"]["diamonds_pending"] + seen["earnings"]["diamonds_paid"] == 2000


async def buy(http, system, fan: str, n: int) -> None:
    for _ in range(n):
        r = await http.post(
            f"{system.url('recharge')}/v1/purchases",
            headers=auth(system.settings, fan),
            json={"bundle_id": "coins_70", "channel": "web"},
        )
        assert r.status_code == 202, r.text  # pending: the sandbox's webhook confirms it


async def wait_for(fetch, want, timeout=60):
    deadline = asyncio.get_running_loop().time() + timeout
    got = None
    while asyncio.get_running_loop().time() < deadline:
        got = await fetch()
        if got == want:
            return got
        await asyncio.sleep(0.3)
    raise AssertionError(f"expected {want!r}, still {got!r} after {timeout}s")


@pytest.mark.parametrize("victim", ["projections", "recharge-relay", "gifting-consumer"])
async def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(system, victim):
    """Purchases keep flowing while `victim` is SIGKILLed and restarted; afterwards the gifting
    wallets and the read models count every purchase exactly once."""
    fans = [new_id("fan") for _ in range(4)]
    per_fan = 15
    settings = system.settings
    async with httpx.AsyncClient(timeout=15) as http:
        load = asyncio.gather(*[buy(http, system, fan, per_fan) for fan in fans])
        await asyncio.sleep(1.0)
        system.kill(victim, signal.SIGKILL)
        await asyncio.sleep(1.0)
        system.start(victim)
        await load
    expected = {fan: 70 * per_fan for fan in fans}
    gifting = await asyncpg.connect(settings.database_for("gifting"))
    projections = await asyncpg.connect(settings.database_for("projections"))
    try:

        async def wallets():
            rows = await gifting.fetch(
                "SELECT user_id, balance FROM wallets WHERE user_id = ANY($1)", fans
            )
            return {r["user_id"]: r["balance"] for r in rows}

        async def read_model():
            rows = await projections.fetch(
                "SELECT user_id, balance, events FROM wallet_balances WHERE user_id = ANY($1)", fans
            )
            return {r["user_id"]: (r["balance"], r["events"]) for r in rows}

        await wait_for(wallets, expected, timeout=90)
        await wait_for(read_model, {f: (b, per_fan) for f, b in expected.items()}, timeout=90)
        ledger_rows = await gifting.fetchval(
            "SELECT count(*) FROM wallet_ledger WHERE user_id = ANY($1)", fans
        )
        assert ledger_rows == per_fan * len(fans)
    finally:
        await gifting.close()
        await projections.close()


async def test_reconciliation_holds_after_the_faults_and_names_planted_discrepancies(system):
    """Runs after the SIGKILL tests above, with a settled demo (a purchase, a gift, a completed
    payout) of its own: every invariant holds; then each row corrupted behind the services'
    backs is named by the check that guards it."""
    settings = system.settings
    seen = await demo.main(
        settings,
        system.url("recharge"),
        system.url("gifting"),
        system.url("payout"),
        say=lambda *a: None,
    )
    fan, creator, clawback = seen["fan"], seen["creator"], uuid.uuid4()
    db = {
        s: await asyncpg.connect(settings.database_for(s))
        for s in ("gifting", "payout", "projections")
    }
    try:

        async def state():
            return (
                (await reconcile(settings)).discrepancies,
                await db["payout"].fetchval(
                    "SELECT status FROM payouts WHERE creator_id = $1", creator
                ),
            )

        await wait_for(state, ([], "completed"))
        payout = str(
            await db["payout"].fetchval(
                "SELECT payout_id FROM payouts WHERE creator_id = $1", creator
            )
        )
        purchase = await db["projections"].fetchval(
            "SELECT purchase_id FROM purchases WHERE user_id = $1 LIMIT 1", fan
        )
        plants = [  # (check, what it must name, database, corruption, repair, arguments)
            (
                "wallet: balance = the sum of its ledger, every entry of a known kind",
                fan,
                "gifting",
                "UPDATE wallets SET balance = balance + 1 WHERE user_id = $1",
                "UPDATE wallets SET balance = balance - 1 WHERE user_id = $1",
                (fan,),
            ),
            (
                "every CoinsClawedBack applied exactly once",
                clawback,
                "gifting",
                "INSERT INTO wallet_ledger (event_id, user_id, kind, delta, balance_after)"
                " VALUES ($1, 'nobody', 'clawback', -1, -1)",
                "DELETE FROM wallet_ledger WHERE event_id = $1",
                (clawback,),
            ),
            (
                "creators' pending and paid = their open and completed payouts",
                creator,
                "payout",
                "UPDATE payouts SET creator_id = 'nobody' WHERE payout_id = $1::uuid"
                " AND creator_id = $2",
                "UPDATE payouts SET creator_id = $2 WHERE payout_id = $1::uuid",
                (payout, creator),
            ),
            (
                "payouts read model agrees with payout",
                payout,
                "projections",
                "UPDATE payouts SET failed_at = now() WHERE payout_id = $1",
                "UPDATE payouts SET failed_at = NULL WHERE payout_id = $1",
                (payout,),
            ),
            (
                "purchases read model agrees with recharge",
                purchase,
                "projections",
                "UPDATE purchases SET clawed_back_coins = clawed_back_coins + 1 WHERE purchase_id = $1",
                "UPDATE purchases SET clawed_back_coins = clawed_back_coins - 1 WHERE purchase_id = $1",
                (purchase,),
            ),
        ]
        try:
            for _, _, database, corruption, _, args in plants:
                await db[database].execute(corruption, *args)
            report = await reconcile(settings)
        finally:
            for _, _, database, _, repair, args in plants:
                await db[database].execute(repair, *args)
    finally:
        for conn in db.values():
            await conn.close()
    found = {name: discrepancies for name, _, discrepancies in report.checks}
    for check, named, *_ in plants:
        assert any(str(named) in d for d in found[check]), f"{check}\n{report.render()}"


async def test_reconciliation_names_an_event_marked_sent_that_never_reached_kafka(system):
    conn = await asyncpg.connect(system.settings.database_for("gifting"))
    lost = uuid.uuid4()
    try:
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, value, sent_at)"
            " VALUES ($1, 'coinstream.gifting.events', 'k', '{}'::bytea, now())",
            lost,
        )
        report = await reconcile(system.settings)
    finally:
        await conn.execute("DELETE FROM outbox WHERE event_id = $1", lost)
        await conn.close()
    assert "FAIL every event marked sent is on Kafka" in report.render(), report.render()
    assert any(str(lost) in d for d in report.discrepancies), report.render()
