"""Partner operations in the read models (real PostgreSQL, the projector itself): each debit
and credit is one wallet statement line naming the partner and moves the balance once, the
partner's day totals its coins and revenue share, consents show grant and revocation; a
redelivery or another order changes nothing."""

import random
import uuid
from decimal import Decimal

import pytest

from eventkit.codec import encode, new_envelope
from eventkit.db import create_pool
from schemas import topics
from schemas.events.base import Payload
from schemas.events.partners import (
    PartnerCoinsCredited,
    PartnerCoinsDebited,
    PartnerConsentGranted,
    PartnerConsentRevoked,
)
from services.projections.projector import Incoming, Projector


@pytest.fixture
async def pool(namespace):
    settings = await namespace(f"pp{uuid.uuid4().hex[:4]}")
    pool = await create_pool(settings.database_for("projections"))
    yield pool
    await pool.close()


def message(payload: Payload, stream: str, version: int, offset: int) -> Incoming:
    env = new_envelope("/test", payload, aggregate_id=stream, aggregate_version=version)
    return Incoming(encode(env), stream.encode(), topics.GIFTING_EVENTS, 0, offset)


def history(fan: str, shop: str, consent: str) -> list[Incoming]:
    ops = [
        PartnerConsentGranted(
            consent_id=consent, user_id=fan, partner_id=shop, scopes=("coins:debit",)
        ),
        PartnerCoinsDebited(
            operation_id=str(uuid.uuid4()),
            partner_id=shop,
            user_id=fan,
            consent_id=consent,
            item_id="sword",
            title="Sword",
            coins=120,
            balance_after=880,
            revenue_share_bp=7000,
            diamonds_per_coin=Decimal("1"),
            rates_version=1,
        ),
        PartnerCoinsCredited(
            operation_id=str(uuid.uuid4()),
            partner_id=shop,
            user_id=fan,
            consent_id=consent,
            reference="quest-1",
            reason="Quest",
            coins=15,
            balance_after=895,
        ),
        PartnerConsentRevoked(consent_id=consent, user_id=fan, partner_id=shop),
    ]
    streams = [f"consent-{consent}", f"wallet-{fan}", f"wallet-{fan}", f"consent-{consent}"]
    return [message(p, s, i + 1, i) for i, (p, s) in enumerate(zip(ops, streams, strict=True))]


async def test_partner_operations_fold_once_into_statements_balances_and_partner_days(pool):
    fan, shop, consent = "fan-p", "shop-p", str(uuid.uuid4())
    batch = history(fan, shop, consent)
    shuffled = batch[:]
    random.Random(3).shuffle(shuffled)
    projector = Projector(pool)
    await projector.apply(shuffled)
    await projector.apply(batch)  # redelivered: counted once

    lines = await pool.fetch(
        "SELECT kind, coins, counterparty, balance_after FROM wallet_statements"
        " WHERE user_id = $1 ORDER BY kind",
        fan,
    )
    assert [tuple(r) for r in lines] == [
        ("partner_credit", 15, shop, 895),
        ("partner_debit", -120, shop, 880),
    ]
    assert (
        await pool.fetchval("SELECT balance FROM wallet_balances WHERE user_id = $1", fan) == -105
    )
    day = await pool.fetchrow("SELECT * FROM partner_daily WHERE partner_id = $1", shop)
    assert (day["debits"], day["debit_coins"], day["partner_coins"]) == (1, 120, 84)
    assert (day["credits"], day["credit_coins"]) == (1, 15)
    row = await pool.fetchrow("SELECT * FROM partner_consents WHERE consent_id = $1", consent)
    assert row["granted_at"] is not None and row["revoked_at"] is not None
