"""analytics.revenue_daily.effective_fx_rate on real PostgreSQL, for every currency of the price
lists: settlement units per charge unit, as the purchases' own fx_rate says, not minor units per
minor unit (which is 100 times too high for a zero-decimal currency such as JPY or KRW)."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eventkit.codec import encode, new_envelope
from eventkit.db import create_pool
from schemas import topics
from services.projections.projector import Incoming, Projector
from services.recharge.pricing import MINOR_EXPONENT, load_catalog
from tests.support.wallets import purchased_at

DAY = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def quotes():
    """A bundle and an odd custom amount (settlement rounded to the cent) per price list and
    channel."""
    catalog = load_catalog()
    for plist in catalog.raw["price_lists"].values():
        country = plist.get("countries", ["US"])[0]
        for channel in ("in_app", "web"):
            yield catalog.quote(next(iter(plist["bundles"])), country, channel), country
            yield catalog.quote_custom(31, country, channel), country


def confirmed(quote, country: str, day: int) -> Incoming:
    """One CoinPurchased, alone on its own UTC day, so its revenue_daily row is its own."""
    payload = purchased_at("fan-fx", quote, country)
    pid = payload.purchase_id
    env = new_envelope(
        "/test/fx", payload, aggregate_id=f"purchase-{pid}", aggregate_version=1
    ).model_copy(update={"time": DAY + timedelta(days=day)})
    return Incoming(encode(env), env.aggregateid.encode(), topics.RECHARGE_EVENTS, 0, day)


@pytest.fixture
async def projections(namespace):
    settings = await namespace(f"fx{uuid.uuid4().hex[:4]}")
    pool = await create_pool(settings.database_for("projections"))
    yield pool
    await pool.close()


def units(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_EXPONENT.get(currency, 2))


async def test_effective_fx_rate_is_the_purchases_own_rate_in_every_price_list_currency(
    projections,
):
    sold = list(quotes())
    currencies = {q.price.currency for q, _ in sold} | {q.settlement.currency for q, _ in sold}
    assert {"JPY", "KRW", "USD"} <= currencies
    await Projector(projections).apply([confirmed(q, c, i) for i, (q, c) in enumerate(sold)])
    async with projections.acquire() as conn:
        rows = {
            r["day"]: r
            for r in await conn.fetch(
                "SELECT day, currency, gross_minor, settlement_minor, effective_fx_rate,"
                " (SELECT fx_rate FROM analytics.purchases p WHERE p.currency = r.currency"
                "  AND (p.confirmed_at AT TIME ZONE 'UTC')::date = r.day) AS fx_rate"
                " FROM analytics.revenue_daily r"
            )
        }
    assert len(rows) == len(sold)
    far_off, inexact = [], []
    for quote, _ in sold:
        row = next(
            r
            for r in rows.values()
            if r["gross_minor"] == quote.price.amount_minor
            and r["currency"] == quote.price.currency
            and r["settlement_minor"] == quote.settlement.amount_minor
        )
        assert row["fx_rate"] == quote.fx_rate
        gross = units(quote.price.amount_minor, quote.price.currency)
        settled = units(quote.settlement.amount_minor, quote.settlement.currency)
        rate = row["effective_fx_rate"]
        # The recorded rate, off only by rounding the settlement to its minor unit ...
        if abs(rate - quote.fx_rate) * gross > units(1, quote.settlement.currency) / 2:
            far_off.append((quote.price.currency, rate, quote.fx_rate))
        # ... and exactly settlement units / gross units, to the 12 places a rate has.
        if rate != round(settled / gross, 12):
            inexact.append((quote.price.currency, rate, round(settled / gross, 12)))
    assert far_off == []
    assert inexact == []
    async with projections.acquire() as conn:
        covered = {
            r["currency"]
            for r in await conn.fetch("SELECT currency FROM analytics.currency_exponents")
        }
    assert currencies <= covered
