"""The README's demo: buy coins, send a gift, request a payout, then read the balances that
each service and the read models hold; then a gift to a multi-guest room, split between its
host and guest, and a subscription. Needs the system running (`make run`)."""

import asyncio
import os
import uuid

import asyncpg
import httpx

from eventkit.auth import mint_token
from eventkit.settings import Settings

RECHARGE = os.environ.get("RECHARGE_URL", "http://127.0.0.1:8001")
GIFTING = os.environ.get("GIFTING_URL", "http://127.0.0.1:8002")
PAYOUT = os.environ.get("PAYOUT_URL", "http://127.0.0.1:8003")


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


async def eventually(fetch, predicate, timeout: float = 30.0):
    """Polls fetch() until predicate(result) holds: services learn of each other via Kafka."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await fetch()
        if predicate(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(0.2)


async def main(
    settings: Settings | None = None,
    recharge: str = RECHARGE,
    gifting: str = GIFTING,
    payout: str = PAYOUT,
    say=print,
) -> dict:
    """Runs the story once with fresh users; returns what it read, for tests to check."""
    settings = settings or Settings()
    fan, creator = f"fan-{uuid.uuid4().hex[:8]}", f"creator-{uuid.uuid4().hex[:8]}"
    fan_token = mint_token(settings, fan)
    creator_token = mint_token(settings, creator, roles=["creator"])
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{recharge}/v1/purchases",
            headers=headers(fan_token),
            json={"bundle_id": "coins_3500", "channel": "web"},
        )
        r.raise_for_status()  # 202: pending until the payment provider's signed webhook
        say(f"1. {fan} bought 3,500 coins (payment pending):", r.json())

        async def wallet():
            return (await http.get(f"{gifting}/v1/wallet", headers=headers(fan_token))).json()

        say(
            "2. payment confirmed, gifting credited the wallet:",
            await eventually(wallet, lambda w: w["balance"]),
        )
        # A creator becomes a known gift recipient by signing in to gifting once.
        (await http.get(f"{gifting}/v1/wallet", headers=headers(creator_token))).raise_for_status()
        # The gift names the catalog version whose prices the fan was shown.
        shown = (await http.get(f"{gifting}/v1/gifts/catalog", params={"country": "US"})).json()
        r = await http.post(
            f"{gifting}/v1/gifts",
            headers=headers(fan_token),
            json={
                "creator_id": creator,
                "context": {"kind": "live", "id": "stream-1"},
                "gift_code": "galaxy",
                "quantity": 3,
                "catalog_version": shown["version"],
            },
        )
        r.raise_for_status()
        say(f"3. gift of 3 x Galaxy to {creator}:", r.json())

        async def earnings():
            return (await http.get(f"{payout}/v1/earnings", headers=headers(creator_token))).json()

        say("4. payout credited diamonds:", await eventually(earnings, lambda e: e["earned"]))
        r = await http.put(
            f"{payout}/v1/payout-method",
            headers=headers(creator_token),
            json={"kind": "bank", "account_holder": creator, "iban": "DE89370400440532013000"},
        )
        r.raise_for_status()
        quote = await http.get(
            f"{payout}/v1/payouts/quote",
            params={"diamonds": 2000},
            headers={"Authorization": f"Bearer {creator_token}"},
        )
        quote.raise_for_status()
        say("5. payout quoted:", quote.json())
        r = await http.post(
            f"{payout}/v1/payouts",
            headers=headers(creator_token),
            json={
                "diamonds": 2000,
                "method": "bank",
                "rates_version": quote.json()["rates_version"],
            },
        )
        r.raise_for_status()
        say("6. payout requested at those rates:", r.json())

    conn = await asyncpg.connect(settings.database_for("projections"))
    try:

        async def read_models():
            w = await conn.fetchrow("SELECT * FROM wallet_balances WHERE user_id = $1", fan)
            c = await conn.fetchrow("SELECT * FROM creator_earnings WHERE creator_id = $1", creator)
            return w, c

        # The sandbox provider settles within seconds: the 2,000 are pending, then paid.
        w, c = await eventually(
            read_models,
            lambda wc: (
                wc[0] and wc[1] and wc[1]["diamonds_pending"] + wc[1]["diamonds_paid"] == 2000
            ),
        )
        say(f"7. read models in PostgreSQL ({settings.db_prefix}_projections):")
        say("   wallet_balances: ", dict(w))
        say("   creator_earnings:", dict(c))
    finally:
        await conn.close()
    await multi_guest_gift(settings, gifting, payout, fan_token, say)
    await subscription(settings, gifting, payout, fan_token, say)
    return {
        "fan": fan,
        "creator": creator,
        "wallet": dict(w),  # after the first gift and the payout
        "earnings": dict(c),
        "final_wallet": await final_wallet(settings, gifting, fan, fan_token),
    }


async def final_wallet(settings: Settings, gifting: str, fan: str, fan_token: str) -> dict:
    """The fan's wallet_balances row once it agrees with gifting's wallet after the whole story
    (the room gift and the subscription spent from it too)."""
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{gifting}/v1/wallet", headers=headers(fan_token))
        balance = r.json()["balance"]
    conn = await asyncpg.connect(settings.database_for("projections"))
    try:

        async def row():
            return await conn.fetchrow("SELECT * FROM wallet_balances WHERE user_id = $1", fan)

        return dict(await eventually(row, lambda w: w and w["balance"] == balance))
    finally:
        await conn.close()


async def multi_guest_gift(settings: Settings, gifting: str, payout: str, fan_token: str, say):
    """A multi-guest room (docs/multi-guest.md): its host keeps 70%, a guest gets 30%; the fan
    sends one gift to the room, debited once, and each creator earns their share."""
    host, guest = f"host-{uuid.uuid4().hex[:8]}", f"guest-{uuid.uuid4().hex[:8]}"
    tokens = {u: mint_token(settings, u, roles=["creator"]) for u in (host, guest)}
    room = f"room-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=10) as http:
        for token in tokens.values():  # known recipients once signed in
            (await http.get(f"{gifting}/v1/wallet", headers=headers(token))).raise_for_status()
        r = await http.put(
            f"{gifting}/v1/rooms/{room}",
            headers=headers(tokens[host]),
            json={"host_share_bp": 7000, "guests": [{"creator_id": guest, "share_bp": 3000}]},
        )
        r.raise_for_status()
        say(f"8. {host} opened room {room}, shares:", r.json()["recipients"])
        r = await http.post(
            f"{gifting}/v1/gifts",
            headers=headers(fan_token),
            json={
                "room_id": room,
                "context": {"kind": "live", "id": room},
                "gift_code": "finger_heart",
                "quantity": 20,
            },
        )
        r.raise_for_status()
        say("9. one gift of 20 x Finger Heart (100 coins) to the room:", r.json())

        async def earned(user):
            r = await http.get(f"{payout}/v1/earnings", headers=headers(tokens[user]))
            return r.json()

        for user in (host, guest):
            e = await eventually(lambda u=user: earned(u), lambda e: e.get("earned"))
            say(f"   {user} earned {e['earned']} diamonds")


async def subscription(settings: Settings, gifting: str, payout: str, fan_token: str, say):
    """A subscription (docs/subscriptions.md): a creator prices a month at 200 coins, the fan
    subscribes (the first month debited at once; it renews from the wallet each period), and
    the creator earns its share (50%: 100 diamonds)."""
    star = f"star-{uuid.uuid4().hex[:8]}"
    token = mint_token(settings, star, roles=["creator"])
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(
            f"{gifting}/v1/creators/{star}/subscription-price",
            headers=headers(token),
            json={"coins": 200},
        )
        r.raise_for_status()
        say(f"10. {star} offers subscriptions:", r.json())
        r = await http.post(
            f"{gifting}/v1/subscriptions",
            headers=headers(fan_token),
            json={"creator_id": star, "coins": 200},
        )
        r.raise_for_status()
        sub = r.json()
        say("11. the fan subscribed:", {k: sub[k] for k in ("status", "period_end", "tier")})

        async def earned():
            r = await http.get(f"{payout}/v1/earnings", headers=headers(token))
            return r.json()

        e = await eventually(earned, lambda e: e.get("earned"))
        say(f"   {star} earned {e['earned']} diamonds (its share of the month)")


if __name__ == "__main__":
    asyncio.run(main())
