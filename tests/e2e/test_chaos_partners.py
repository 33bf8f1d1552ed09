"""scripts/chaos_partners against the whole system (no faults: the chaos run adds them): the
partner load registers a partner, takes consents, debits and credits until its deadline, meets
the partner's daily limit, and every acknowledged operation is in the ledger once."""

import asyncio
import random

import httpx
import pytest

from eventkit.auth import mint_token
from scripts import chaos_partners
from scripts.chaos import Client, Outcome
from tests.support.apps import new_id

pytestmark = pytest.mark.e2e


async def wallet_holds(http, system, fan: str, coins: int) -> None:
    headers = {"Authorization": f"Bearer {mint_token(system.settings, fan)}"}
    for _ in range(200):
        r = await http.get(f"{system.url('gifting')}/v1/wallet", headers=headers)
        if r.status_code == 200 and r.json()["balance"] == coins:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{fan}'s purchase never reached the wallet")


async def test_the_partner_load_acknowledges_only_what_the_ledger_holds(system, monkeypatch):
    monkeypatch.setattr(chaos_partners, "DAILY_COINS", 3000)  # reached within the run
    fans = [new_id("fan") for _ in range(4)]
    outcome = Outcome(seed=7)
    async with httpx.AsyncClient(timeout=10) as http:
        c = Client(http, system.settings, outcome)
        for fan in fans:  # bought, as the load's fans buy: every coin has its CoinPurchased
            url = f"{system.url('recharge')}/v1/purchases"
            await c.command("purchase", url, fan, {"bundle_id": "coins_3500", "channel": "web"})
        for fan in fans:
            await wallet_holds(http, system, fan, 3500)
        deadline = asyncio.get_running_loop().time() + 8
        await chaos_partners.partner_load(
            c, system.url("gifting"), fans, 7, random.Random(7), deadline
        )
    await chaos_partners.verify_acknowledged(system.settings, outcome)
    assert outcome.discrepancies == []
    assert outcome.acknowledged.get("partner debit") and outcome.acknowledged.get("partner credit")
    assert any("partner-limit-daily" in k for k in outcome.refusals), outcome.refusals
