"""Funded fans and known creators, made through the real paths: each fan buys coin bundles with
POST recharge /v1/purchases (CoinPurchased -> Kafka -> gifting credits the wallet), and the bench
waits until gifting's GET /v1/wallet shows the coins, so it works whether the purchase is
confirmed synchronously or later (webhook flow). Every creator calls GET /v1/wallet once, which
makes it known to gifting."""

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx

from eventkit.auth import mint_token
from eventkit.settings import Settings

BUNDLE = {"bundle_id": "coins_17500", "channel": "web"}
BUNDLE_COINS = 17_500


@dataclass
class Population:
    fans: list[tuple[str, str]]  # (user id, token)
    creators: list[tuple[str, str]]
    coins_per_fan: int
    seconds: float


async def _bounded(limit: int, jobs):
    sem = asyncio.Semaphore(limit)

    async def guarded(job):
        async with sem:
            return await job

    return await asyncio.gather(*(guarded(j) for j in jobs))


def _h(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "idempotency-key": str(uuid.uuid4())}


async def populate(
    settings: Settings,
    recharge: str,
    gifting: str,
    fans: int,
    creators: int,
    coins_per_fan: int,
    say=print,
    timeout: float = 300,
) -> Population:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    ttl = 6 * 3600
    fan_users = [
        (u, mint_token(settings, u, ttl_seconds=ttl))
        for u in (f"bfan-{tag}-{i}" for i in range(fans))
    ]
    creator_users = [
        (u, mint_token(settings, u, roles=["creator"], ttl_seconds=ttl))
        for u in (f"bcreator-{tag}-{i}" for i in range(creators))
    ]
    bundles = max(1, -(-coins_per_fan // BUNDLE_COINS))
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def buy(token: str) -> None:
            for attempt in range(5):
                r = await http.post(f"{recharge}/v1/purchases", headers=_h(token), json=BUNDLE)
                if r.status_code < 300:
                    return
                await asyncio.sleep(0.5 * (attempt + 1))
            r.raise_for_status()

        async def wallet(token: str) -> int:
            r = await http.get(f"{gifting}/v1/wallet", headers=_h(token))
            r.raise_for_status()
            return r.json()["balance"]

        await _bounded(32, [buy(tok) for _, tok in fan_users for _ in range(bundles)])
        say(f"  {fans * bundles} purchases sent; making {creators} creators known to gifting")
        await _bounded(32, [wallet(tok) for _, tok in creator_users])
        want = bundles * BUNDLE_COINS
        pending = list(fan_users)
        deadline = time.monotonic() + timeout
        while pending:
            balances = await _bounded(32, [wallet(tok) for _, tok in pending])
            pending = [f for f, b in zip(pending, balances, strict=True) if b < want]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} wallets not credited within {timeout}s")
            if pending:
                await asyncio.sleep(0.5)
    return Population(fan_users, creator_users, want, time.monotonic() - started)
