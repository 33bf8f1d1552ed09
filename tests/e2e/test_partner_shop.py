"""examples/partner_shop (a second app, its own process) against the whole system: an admin
registers the shop, a fan buys coins and grants it a consent, the shop sells an item for
coins and rewards a quest; the fan's wallet, its statement in gifting and in the read models,
and the shop's revenue share in payout show it; a retried order debits once."""

import asyncio
import socket
import subprocess
import sys

import httpx
import pytest

from eventkit.auth import mint_token
from infra.paths import ROOT
from tests.support.apps import auth, new_id

pytestmark = pytest.mark.e2e
SHOP = ROOT / "examples" / "partner_shop" / "shop.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(fetch, check, timeout: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await fetch()
        if check(got):
            return got
        assert asyncio.get_running_loop().time() < deadline, f"still {got!r}"
        await asyncio.sleep(0.3)


async def test_the_partner_shop_sells_for_coins_and_rewards_a_quest(system):
    s, gifting = system.settings, system.url("gifting")
    partner, fan = new_id("pixelshop"), new_id("fan")
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.post(
            f"{gifting}/v1/admin/partner-clients",
            json={
                "partner_id": partner,
                "name": "Pixel Shop",
                "scopes": ["coins:debit", "coins:credit"],
                "revenue_share_bp": 7000,
                "daily_coins": 10_000,
            },
            headers=auth(s, "ops-1", roles=["admin"]),
        )
        assert r.status_code == 201, r.text
        client = r.json()
        r = await http.post(
            f"{system.url('recharge')}/v1/purchases",
            json={"bundle_id": "coins_70", "channel": "web"},
            headers=auth(s, fan),
        )
        assert r.status_code == 202, r.text
        fan_auth = {"Authorization": f"Bearer {mint_token(s, fan)}"}

        async def wallet():
            return (await http.get(f"{gifting}/v1/wallet", headers=fan_auth)).json()["balance"]

        await eventually(wallet, lambda b: b == 70)
        r = await http.post(
            f"{gifting}/v1/partner-consents",
            json={"partner_id": partner, "scopes": ["coins:debit", "coins:credit"]},
            headers=auth(s, fan),
        )
        assert r.status_code == 201, r.text
        consent_token = r.json()["consent_token"]

        port = free_port()
        env = {
            "COINSTREAM_URL": gifting,
            "PARTNER_CLIENT_ID": client["client_id"],
            "PARTNER_CLIENT_SECRET": client["client_secret"],
            "PATH": "/usr/bin:/bin",
        }
        shop = subprocess.Popen(
            [sys.executable, str(SHOP), "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert shop.stdout is not None and "pixel shop on" in shop.stdout.readline()
            base = f"http://127.0.0.1:{port}"
            r = await http.post(
                f"{base}/link", json={"user": "ada", "consent_token": consent_token}
            )
            assert r.status_code == 200, r.text
            order = {"user": "ada", "item_id": "sword-of-dawn", "order_id": "o-1"}
            bought = await http.post(f"{base}/buy", json=order)
            again = await http.post(f"{base}/buy", json=order)  # a retried order
            assert bought.status_code == again.status_code == 201, bought.text
            assert again.json() == bought.json() and bought.json()["partner_coins"] == 35
            r = await http.post(
                f"{base}/reward", json={"user": "ada", "quest_id": "q-1", "coins": 10}
            )
            assert r.status_code == 201, r.text
            too_dear = {"user": "ada", "item_id": "sword-of-dawn", "order_id": "o-2"}
            r = await http.post(f"{base}/buy", json=too_dear)  # 30 coins left: refused
            assert r.status_code == 409 and r.json()["type"].endswith("/insufficient-coins")
        finally:
            shop.terminate()
            shop.wait(timeout=10)

        assert await wallet() == 70 - 50 + 10
        r = await http.get(f"{gifting}/v1/wallet/statement", headers=fan_auth)
        kinds = [(e["kind"], e["delta"]) for e in r.json()["entries"]]
        assert kinds == [("partner_credit", 10), ("partner_debit", -50), ("purchase", 70)]

        async def projected():
            r = await http.get(f"{system.url('projections')}/v1/wallet/statement", headers=fan_auth)
            return [
                (e["kind"], e["coins"], e["counterparty"])
                for e in r.json()["lines"]
                if e["kind"].startswith("partner")
            ]

        lines = await eventually(projected, lambda got: len(got) == 2)
        assert sorted(lines) == [
            ("partner_credit", 10, partner),
            ("partner_debit", -50, partner),
        ]
        # the shop's share, credited by payout, is what its account withdraws from
        shop_auth = {"Authorization": f"Bearer {mint_token(s, partner, account_type='business')}"}

        async def earned():
            r = await http.get(f"{system.url('payout')}/v1/earnings", headers=shop_auth)
            return r.json()["earned"]

        await eventually(earned, lambda e: e == 35)
