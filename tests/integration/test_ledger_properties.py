"""Hypothesis drives random spend/credit/clawback sequences through the real ledger SQL."""

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.gifting import ledger

ops = st.lists(
    st.tuples(
        st.sampled_from(["spend", "credit", "clawback"]), st.integers(min_value=1, max_value=2000)
    ),
    min_size=1,
    max_size=25,
)


async def test_spends_never_take_a_balance_below_zero_and_the_ledger_adds_up(pools):
    checked = []

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops)
    def run(sequence):
        checked.append(sequence)

    run()  # collects hypothesis-generated sequences (shrinking needs a sync body)
    for sequence in checked:
        user = f"prop-{uuid.uuid4().hex[:10]}"
        expected = 0
        async with pools["gifting"].acquire() as conn:
            for op, amount in sequence:
                async with conn.transaction():
                    if op == "credit":
                        expected += amount
                        await ledger.credit(conn, user, amount, uuid.uuid4(), "purchase")
                    elif op == "clawback":
                        expected -= amount
                        await ledger.credit(conn, user, -amount, uuid.uuid4(), "clawback")
                    else:
                        before = await ledger.balance(conn, user)
                        spent = await ledger.spend(conn, user, amount)
                        if before >= amount:
                            assert spent is not None and spent[0] == before - amount >= 0
                            expected -= amount
                            await ledger.record_spend(
                                conn, user, uuid.uuid4(), "gift", amount, spent[0]
                            )
                        else:
                            assert spent is None
            assert await ledger.balance(conn, user) == expected
            assert (
                await conn.fetchval(
                    "SELECT coalesce(sum(delta), 0) FROM wallet_ledger WHERE user_id = $1", user
                )
                == expected
            )
    assert len(checked) >= 20  # hypothesis may stop early once the space is covered
