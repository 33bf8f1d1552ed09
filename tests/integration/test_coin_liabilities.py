"""analytics.coin_liabilities on real PostgreSQL, from events through the projector: purchased
coins apart from bonus coins (open, or past their expiry and not yet expired), a chargeback's
debt, each wallet in the region of its latest purchase that kept its coins, and the purchased
coins valued at what that wallet paid per coin."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eventkit.codec import encode
from eventkit.db import create_pool
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.bonus import BonusCoinsExpired
from schemas.events.gifting import ContentUnlocked
from schemas.events.promotions import BonusCoinsGranted
from schemas.events.recharge import CoinsClawedBack
from services.projections.projector import Incoming, Projector
from services.recharge.pricing import Quote, load_catalog
from tests.support.creators import envelope
from tests.support.wallets import purchased_at

NOW = datetime.now(UTC)


@pytest.fixture
async def projections(namespace):
    settings = await namespace(f"cl{uuid.uuid4().hex[:4]}")
    pool = await create_pool(settings.database_for("projections"))
    yield pool
    await pool.close()


def bought(user: str, quote: Quote, country: str, days_ago: int) -> tuple[str, Envelope]:
    payload = purchased_at(user, quote, country)
    pid = payload.purchase_id
    return pid, envelope(payload, f"purchase-{pid}", NOW - timedelta(days=days_ago))


def clawed_back(user: str, pid: str, quote: Quote) -> Envelope:
    payload = CoinsClawedBack(
        purchase_id=pid,
        user_id=user,
        coins=quote.coins,
        reason_code="chargeback",
        provider="sandbox",
        provider_txn_id=f"txn-{pid}",
        settlement=quote.settlement,
    )
    return envelope(payload, f"purchase-{pid}-3")


def unlocked(user: str, coins: int) -> Envelope:
    payload = ContentUnlocked(
        unlock_id=str(uuid.uuid4()),
        user_id=user,
        item_id="item-1",
        owner_id="star-1",
        coins=coins,
        diamonds_per_coin=Decimal("1"),
        commission_rate=Decimal("0.5"),
        rates_version=1,
        catalog_version=1,
        balance_after=0,
    )
    return envelope(payload, f"wallet-{user}")


def granted(user: str, coins: int, expires_at: datetime | None) -> tuple[str, Envelope]:
    lot = str(uuid.uuid4())
    payload = BonusCoinsGranted(
        grant_id=lot,
        user_id=user,
        coins=coins,
        campaign_id="camp-1",
        source="coupon",
        expires_at=expires_at,
    )
    return lot, envelope(payload, f"promo-{user}")


def expired(user: str, lot: str, coins: int, at: datetime) -> Envelope:
    payload = BonusCoinsExpired(
        lot_id=lot,
        user_id=user,
        campaign_id="camp-1",
        coins=coins,
        expires_at=at,
        expired_at=at,
        balance_after=0,
    )
    return envelope(payload, f"wallet-{user}-x")


async def test_liabilities_split_purchased_from_bonus_coins_per_region_with_their_value(
    projections,
):
    catalog = load_catalog()
    us_big, us_small = (
        catalog.quote("coins_3500", "US", "web"),
        catalog.quote("coins_700", "US", "web"),
    )
    gb = catalog.quote("coins_3300", "GB", "web")
    events: list[Envelope] = []
    # us: bought twice, spent 200 purchased coins, holds an open lot of 100.
    events += [bought("us", us_big, "US", 3)[1], bought("us", us_small, "US", 2)[1]]
    events += [unlocked("us", 200), granted("us", 100, NOW + timedelta(days=5))[1]]
    # gb: bought in the US long ago, then in GB (its region now); one lot is past its expiry
    # (the worker has not reached it), one expired, one never expires.
    events += [bought("gb", us_small, "US", 30)[1], bought("gb", gb, "GB", 1)[1]]
    lot, grant = granted("gb", 30, NOW - timedelta(days=2))
    events += [grant, expired("gb", lot, 30, NOW - timedelta(days=2))]
    events += [granted("gb", 50, NOW - timedelta(hours=1))[1], granted("gb", 20, None)[1]]
    # debtor: spent 500 of 700, then charged back: 500 owed, no purchase left to price it.
    pid, purchase = bought("debtor", us_small, "US", 4)
    events += [purchase, unlocked("debtor", 500), clawed_back("debtor", pid, us_small)]
    # coupon-only: bonus coins and nothing bought.
    events += [granted("coupon-only", 40, None)[1]]
    batch = [
        Incoming(encode(e), e.aggregateid.encode(), topics.RECHARGE_EVENTS, 0, i)
        for i, e in enumerate(events)
    ]
    assert await Projector(projections).apply(batch) == []

    rows = {
        r["country"]: dict(r)
        for r in await projections.fetch("SELECT * FROM analytics.coin_liabilities")
    }
    assert set(rows) == {"US", "GB", None}
    us = rows["US"]
    paid, coins = us_big.price.amount_minor + us_small.price.amount_minor, 4200
    assert (us["currency"], us["settlement_currency"], us["wallets"]) == ("USD", "USD", 1)
    assert (us["purchased_coins"], us["bonus_coins"], us["bonus_coins_due"]) == (4000, 100, 0)
    assert us["purchased_value_minor"] == round(Decimal(4000 * paid) / coins)  # 4284
    assert us["purchased_settlement_minor"] == us["purchased_value_minor"]
    g = rows["GB"]
    # Only the GB purchase prices the wallet: its coins were bought in GBP.
    assert (g["currency"], g["settlement_currency"]) == ("GBP", "USD")
    assert (g["purchased_coins"], g["bonus_coins"], g["bonus_coins_due"]) == (4000, 20, 50)
    assert g["purchased_value_minor"] == round(Decimal(4000 * gb.price.amount_minor) / gb.coins)
    assert g["purchased_settlement_minor"] == round(
        Decimal(4000 * gb.settlement.amount_minor) / gb.coins
    )
    none = rows[None]
    assert (none["wallets"], none["purchased_coins"], none["debt_coins"]) == (2, 0, 500)
    assert (none["bonus_coins"], none["purchased_value_minor"]) == (40, None)
