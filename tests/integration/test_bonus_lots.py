"""Bonus lots end to end (in-process gifting API, real PostgreSQL, the consumers' own handlers):
a grant becomes a lot; gifts and unlocks spend it first and record its part and rate; payout
credits the bonus part at its rate; the projections keep it apart; the expiry worker expires
what is left, announced in the statement first; a chargeback leaves lots alone but its debt
blocks spending; the single-spend path takes purchased coins only; a storm of fans holding lots
keeps the exact in-order prefix; reconcile's lot checks agree."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eventkit.codec import encode, new_envelope
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.promotions import BonusCoinsGranted
from schemas.events.recharge import CoinsClawedBack
from schemas.money import Money
from scripts import reconcile_lots
from services.gifting import spending
from services.gifting.api import create
from services.gifting.errors import InsufficientCoins
from services.gifting.handlers import on_bonus_granted, on_coins_clawed_back
from services.gifting.lots_expiry import expire_due
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client, auth, new_id
from tests.support.creators import consume
from tests.support.wallets import fund_wallet

BONUS_RATE = Decimal("0.5")  # catalog.json rates.bonus_diamonds_per_coin
OURS: set[str] = set()  # the wallets this module made (reconcile is checked on them)


@pytest.fixture(scope="module")
async def client(prepared):
    async with api_client(create, prepared) as c:
        yield c


async def grant(pools, user, coins, expires_at=None, grant_id=None) -> tuple[str, Envelope]:
    payload = BonusCoinsGranted(
        grant_id=grant_id or new_id("lot"),
        user_id=user,
        coins=coins,
        campaign_id="camp-1",
        source="coupon",
        expires_at=expires_at,
    )
    env = new_envelope("/test", payload, aggregate_id=f"promo-{user}", aggregate_version=1)
    OURS.add(user)
    async with pools["gifting"].acquire() as conn, conn.transaction():
        await on_bonus_granted(conn, env, payload)
    return payload.grant_id, env


async def creator(client, settings) -> str:
    user = new_id("star")
    r = await client.get("/v1/wallet", headers=auth(settings, user, roles=["creator"]))
    assert r.status_code == 200
    return user


async def send(client, settings, fan, to, quantity, key=None):
    body = {
        "creator_id": to,
        "context": {"kind": "live", "id": "stream-b"},
        "gift_code": "rose",
        "quantity": quantity,
    }
    return await client.post("/v1/gifts", json=body, headers=auth(settings, fan, key))


async def wallet(pools, user) -> tuple[int, int]:
    row = await pools["gifting"].fetchrow(
        "SELECT balance, bonus FROM wallets WHERE user_id = $1", user
    )
    return row["balance"], row["bonus"]


async def events_of(pools, fan) -> list[Envelope]:
    rows = await pools["gifting"].fetch(
        "SELECT envelope FROM events WHERE stream_id = $1 ORDER BY version", f"wallet-{fan}"
    )
    return [Envelope.model_validate(r["envelope"]) for r in rows]


async def test_a_gift_spends_bonus_first_and_each_store_keeps_marketing_money_apart(
    client, prepared, pools
):
    star, fan = await creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 100)
    lot, granted = await grant(pools, fan, 30)
    await grant(pools, fan, 30, grant_id=lot)  # the same lot again: nothing more
    assert await wallet(pools, fan) == (130, 30)

    r = await send(client, prepared, fan, star, 50)
    assert r.status_code == 201, r.text
    assert r.json()["balance_after"] == 80
    assert await wallet(pools, fan) == (80, 0)
    (gift,) = await events_of(pools, fan)
    assert gift.data["bonus_coins"] == 30
    assert Decimal(gift.data["bonus_diamonds_per_coin"]) == BONUS_RATE
    assert gift.data["bonus_lots"] == [{"lot_id": lot, "coins": 30}]
    assert (
        await pools["gifting"].fetchval("SELECT remaining FROM wallet_lots WHERE lot_id = $1", lot)
        == 0
    )

    # payout: 20 purchased coins x 1 + 30 bonus coins x 0.5
    assert await consume(prepared, pools["payout"], gift) == []
    credited = await pools["payout"].fetchval(
        "SELECT diamonds FROM credits WHERE source_id = $1", gift.data["gift_id"]
    )
    assert credited == 20 + 15

    # the projections: the lot, the fan's bonus figures, the creator's bonus earnings
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), t, 0, i)
        for i, (e, t) in enumerate(
            [(gift, topics.GIFTING_EVENTS), (granted, topics.RECHARGE_EVENTS)]
        )
    ]
    projector = Projector(pools["projections"])
    assert await projector.apply(batch) == []
    assert await projector.apply(batch) == []  # a replay counts once
    db = pools["projections"]
    row = await db.fetchrow(
        "SELECT user_id, granted, spent, expired, outstanding FROM bonus_lots WHERE lot_id = $1",
        lot,
    )
    assert tuple(row) == (fan, 30, 30, 0, 0)
    earned = await db.fetchrow(
        "SELECT bonus_coins, bonus_diamonds FROM bonus_creator_earnings WHERE creator_id = $1",
        star,
    )
    assert tuple(earned) == (30, 15)
    assert await db.fetchval("SELECT outstanding FROM bonus_wallets WHERE user_id = $1", fan) == 0


async def test_an_unlock_spends_bonus_first_and_its_owner_earns_the_bonus_rate(
    client, prepared, pools
):
    owner, fan = await creator(client, prepared), new_id("fan")
    item = new_id("video")
    r = await client.put(
        "/v1/items",
        json={"item_id": item, "title": "clip", "coins": 40},
        headers=auth(prepared, owner, roles=["creator"]),
    )
    assert r.status_code == 201, r.text
    await fund_wallet(pools["gifting"], fan, 25)
    lot, _ = await grant(pools, fan, 15)
    r = await client.post(
        "/v1/unlocks", json={"item_id": item, "coins": 40}, headers=auth(prepared, fan)
    )
    assert r.status_code == 201, r.text
    assert await wallet(pools, fan) == (0, 0)
    (unlock,) = await events_of(pools, fan)
    assert unlock.data["bonus_lots"] == [{"lot_id": lot, "coins": 15}]
    assert await consume(prepared, pools["payout"], unlock) == []
    assert (
        await pools["payout"].fetchval(
            "SELECT diamonds FROM credits WHERE source_id = $1", unlock.data["unlock_id"]
        )
        == 25 + 7
    )  # floor(15 x 0.5)


async def test_the_worker_expires_what_is_left_of_a_lot_announced_in_the_statement_first(
    client, prepared, pools
):
    star, fan = await creator(client, prepared), new_id("fan")
    soon = datetime.now(UTC) + timedelta(hours=1)
    lot, _ = await grant(pools, fan, 20, expires_at=soon)
    await grant(pools, fan, 5, expires_at=soon + timedelta(days=30))  # not announced yet
    assert (await send(client, prepared, fan, star, 8)).status_code == 201  # from `lot` first
    page = (await client.get("/v1/wallet/statement", headers=auth(prepared, fan))).json()
    assert [(x["lot_id"], x["coins"]) for x in page["upcoming_expiries"]] == [(lot, 12)]

    done = await expire_due(pools["gifting"], soon + timedelta(minutes=1))
    assert done["lots"] >= 1
    assert await wallet(pools, fan) == (5, 5)
    expired = [e for e in await events_of(pools, fan) if e.type == "BonusCoinsExpired"]
    assert [(e.data["lot_id"], e.data["coins"], e.data["balance_after"]) for e in expired] == [
        (lot, 12, 5)
    ]
    ledger = await pools["gifting"].fetch(
        "SELECT kind, delta FROM wallet_ledger WHERE user_id = $1 ORDER BY entry_id", fan
    )
    assert [(r["kind"], r["delta"]) for r in ledger] == [
        ("bonus", 20),
        ("bonus", 5),
        ("gift", -8),
        ("bonus_expiry", -12),
    ]
    await expire_due(pools["gifting"], soon + timedelta(minutes=2))  # once only
    assert await wallet(pools, fan) == (5, 5)
    page = (await client.get("/v1/wallet/statement", headers=auth(prepared, fan))).json()
    assert page["upcoming_expiries"] == []


async def test_a_lot_past_its_expiry_is_not_spendable_before_the_worker_runs(
    client, prepared, pools
):
    star, fan = await creator(client, prepared), new_id("fan")
    await grant(pools, fan, 10, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    r = await send(client, prepared, fan, star, 1)
    assert r.status_code == 409 and r.json()["type"].endswith("/insufficient-coins")


async def test_a_chargeback_takes_purchased_coins_only_and_its_debt_blocks_spending(
    client, prepared, pools
):
    star, fan = await creator(client, prepared), new_id("fan")
    await fund_wallet(pools["gifting"], fan, 10)
    await grant(pools, fan, 5)
    assert (await send(client, prepared, fan, star, 12)).status_code == 201  # 5 bonus + 7 bought
    lot, _ = await grant(pools, fan, 20)
    clawback = CoinsClawedBack(
        purchase_id=str(uuid.uuid4()),
        user_id=fan,
        coins=10,
        reason_code="chargeback",
        provider="test",
        provider_txn_id=str(uuid.uuid4()),
        settlement=Money(amount_minor=10, currency="USD"),
    )
    env = new_envelope("/test", clawback, aggregate_id="purchase-x", aggregate_version=2)
    async with pools["gifting"].acquire() as conn, conn.transaction():
        await on_coins_clawed_back(conn, env, clawback)
    assert await wallet(pools, fan) == (13, 20)  # purchased part 3 - 10 = -7; the lot intact
    r = await send(client, prepared, fan, star, 1)
    assert r.status_code == 409 and r.json()["type"].endswith("/insufficient-coins")
    await fund_wallet(pools["gifting"], fan, 7)  # the debt covered: bonus coins spendable again
    assert (await send(client, prepared, fan, star, 20)).status_code == 201
    assert await wallet(pools, fan) == (0, 0)


async def test_the_single_spend_path_takes_purchased_coins_only(pools):
    fan = new_id("fan")
    await fund_wallet(pools["gifting"], fan, 10)
    await grant(pools, fan, 20)
    async with pools["gifting"].acquire() as conn:
        with pytest.raises(InsufficientCoins):
            async with conn.transaction():
                await spending.debit(conn, fan, 11, "subscription")
        async with conn.transaction():
            assert await spending.debit(conn, fan, 10, "subscription") == (20, 3)
    assert await wallet(pools, fan) == (20, 20)
    OURS.discard(fan)  # a debit with no ledger row of its own (not a whole spend)


async def test_a_storm_of_fans_holding_lots_keeps_the_exact_in_order_prefix(
    client, prepared, pools
):
    star = await creator(client, prepared)
    fans = [new_id("fan") for _ in range(20)]
    # fan i: 3 + i % 4 bonus coins in two lots (the sooner-expiring one spent first) and
    # 2 + i % 3 purchased coins; ten 1-coin gifts each
    later = datetime.now(UTC) + timedelta(days=3)
    lots = {}
    for i, fan in enumerate(fans):
        await fund_wallet(pools["gifting"], fan, 2 + i % 3)
        second, _ = await grant(pools, fan, 1 + i % 4, expires_at=later + timedelta(days=1))
        first, _ = await grant(pools, fan, 2, expires_at=later)
        lots[fan] = (first, second)
    sends = [(fan, str(uuid.uuid4())) for _ in range(10) for fan in fans]
    responses = await asyncio.gather(
        *(send(client, prepared, fan, star, 1, key) for fan, key in sends)
    )
    assert {r.status_code for r in responses} <= {201, 409}
    for i, fan in enumerate(fans):
        bonus, bought = 3 + i % 4, 2 + i % 3
        accepted = [
            r.json()
            for (f, _), r in zip(sends, responses, strict=True)
            if f == fan and r.status_code == 201
        ]
        assert len(accepted) == bonus + bought
        gifts = [e for e in await events_of(pools, fan) if e.type == "GiftSent"]
        # in wallet order: the first lot, then the second, then purchased coins
        first, second = lots[fan]
        assert [tuple(d["lot_id"] for d in e.data.get("bonus_lots", [])) for e in gifts] == (
            [(first,)] * 2 + [(second,)] * (bonus - 2) + [()] * bought
        )
        assert [e.data["balance_after"] for e in gifts] == list(range(bonus + bought - 1, -1, -1))
        assert await wallet(pools, fan) == (0, 0)


async def test_reconcile_lot_checks_agree_with_gifting_and_name_a_corrupted_lot(pools):
    db = {"gifting": pools["gifting"]}

    def ours(found: list[str]) -> list[str]:
        return [line for line in found if any(user in line for user in OURS)]

    examined, found = await reconcile_lots.lots_add_up(db)
    assert examined > 0 and ours(found) == []
    fan = new_id("fan")
    lot, _ = await grant(pools, fan, 9)
    await pools["gifting"].execute(
        "UPDATE wallet_lots SET remaining = 8 WHERE lot_id = $1", lot
    )  # a coin lost from the lot, not from the wallet
    _, found = await reconcile_lots.lots_add_up(db)
    assert any(lot in line for line in found)
    assert any(fan in line and "bonus 9, its lots hold 8" in line for line in found)
    await pools["gifting"].execute("UPDATE wallet_lots SET remaining = 9 WHERE lot_id = $1", lot)
