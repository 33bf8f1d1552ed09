"""Property tests (hypothesis) for the money rules: exact, never negative, never float."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schemas.money import Money
from services.payout.conversion import diamonds_for, diamonds_to_fiat
from services.recharge.pricing import convert, load_catalog, round_minor

rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=6)
amounts = st.integers(min_value=0, max_value=10**12)


@given(amounts, rates)
def test_conversion_is_the_exact_product_rounded_half_even(minor, rate):
    out = convert(Money(amount_minor=minor, currency="USD"), rate, "EUR")
    exact = Decimal(minor) * rate
    assert isinstance(out.amount_minor, int)
    assert abs(Decimal(out.amount_minor) - exact) <= Decimal("0.5")
    assert out.amount_minor == round_minor(exact)


COUNTRIES = st.sampled_from(["US", "GB", "DE", "JP", "KR", "BR"])
CHANNELS = st.sampled_from(["web", "in_app"])


@given(COUNTRIES, CHANNELS, st.data())
def test_every_quote_is_integral_and_the_fee_never_exceeds_the_settlement(country, channel, data):
    catalog = load_catalog()
    bundle = data.draw(st.sampled_from([o.bundle_id for o in catalog.offers(country, channel)]))
    low, high = catalog.custom_range
    for q in (
        catalog.quote(bundle, country, channel),
        catalog.quote_custom(data.draw(st.integers(low, high)), country, channel),
    ):
        assert all(isinstance(m.amount_minor, int) for m in (q.price, q.settlement, q.fee))
        assert 0 <= q.fee.amount_minor <= q.settlement.amount_minor
        assert q.price.amount_minor > 0


@given(
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=0, max_value=Decimal("5"), places=4),
)
def test_diamonds_never_exceed_the_exact_product(coins, rate):
    d = diamonds_for(coins, rate)
    assert 0 <= d <= Decimal(coins) * rate < d + 1


@given(st.integers(min_value=0, max_value=10**10))
def test_payout_conversion_is_exact_for_whole_cents(diamonds):
    amount, _ = diamonds_to_fiat(diamonds, Decimal("0.005"), Decimal(1), "USD")
    assert amount.amount_minor == diamonds // 2  # half a cent each, rounded down


@given(
    st.lists(st.integers(min_value=1, max_value=5000), max_size=60),
    st.integers(min_value=0, max_value=50_000),
)
def test_spending_model_never_goes_negative(spends, start):
    """The rule the SQL enforces (balance >= price), as a reference model."""
    balance, accepted = start, 0
    for price in spends:
        if balance >= price:
            balance -= price
            accepted += price
        assert balance >= 0
    assert accepted == start - balance
