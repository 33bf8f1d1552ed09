"""Fan levels: the pure rules (points per coin, the daily decay, the lapse after 7 idle days,
the thresholds), the order-independence a rebuild relies on, and the exclusive gift's entry in
the catalog."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.gifting import fan_levels
from services.gifting.catalog import load_catalog
from services.gifting.fan_levels import FanPoints, after_gifts, fold, level, level_on, points_on

D0 = date(2026, 3, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def test_a_point_per_coin_and_the_documented_thresholds():
    assert fan_levels.POINTS_PER_COIN == 1
    assert [level(p) for p in (0, 1, 99, 100, 499, 500, 999, 1_000, 2_499, 2_500)] == [
        0, 1, 1, 2, 2, 3, 3, 4, 4, 5,
    ]  # fmt: skip
    assert level(100_000) == 10 and level(10**12) == 10
    assert points_on(fold([(day(0), 2_500)]), day(0)) == 2_500


def test_gifts_of_one_day_add_up_without_decay():
    state = fold([(day(0), 300), (day(0), 200)])
    assert state == FanPoints(500, day(0))
    assert points_on(state, day(1)) == 500  # the day after: no day has ended without a gift


def test_each_day_ending_without_a_gift_takes_five_percent_rounded_down():
    state = FanPoints(1_000, day(0))
    assert [points_on(state, day(n)) for n in range(1, 5)] == [1_000, 950, 902, 856]
    # a gift on day 3 continues from the decayed points (two idle days: 1 and 2)
    assert after_gifts(state, day(3), 100) == FanPoints(902 + 100, day(3))


def test_membership_lapses_after_seven_whole_days_without_a_gift():
    state = FanPoints(50_000, day(0))
    assert points_on(state, day(7)) == fan_levels.decayed(50_000, 6) > 0  # six idle days
    assert points_on(state, day(8)) == 0 and level_on(state, day(8)) == 0  # seven: lapsed
    # the next gift starts again from zero
    assert after_gifts(state, day(8), 10) == FanPoints(10, day(8))
    assert after_gifts(state, day(7), 10) == FanPoints(fan_levels.decayed(50_000, 6) + 10, day(7))


def test_a_late_event_of_an_earlier_day_counts_on_the_last_day():
    assert after_gifts(FanPoints(100, day(5)), day(3), 7) == FanPoints(107, day(5))


HISTORY = st.lists(
    st.tuples(st.integers(0, 40).map(day), st.integers(1, 5_000)), min_size=1, max_size=30
)


@given(HISTORY, st.randoms())
def test_the_fold_is_independent_of_the_order_and_the_batching_of_a_history(history, rnd):
    """A rebuild folds the days in another grouping than the live batches did: same state."""
    whole = fold(history)
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == whole
    # live: batch after batch, each folded into the state the previous left (in day order, as
    # one fan's gifts are committed)
    ordered = sorted(history)
    cut = rnd.randint(0, len(ordered))
    assert fold(ordered[cut:], fold(ordered[:cut])) == whole
    # per day totals (the projection's rows) give the same state too
    totals: dict[date, int] = {}
    for d, coins in history:
        totals[d] = totals.get(d, 0) + coins
    assert fold(totals.items()) == whole


def test_gift_parts_credit_each_recipient_with_their_share_of_the_coins():
    v1 = {"creator_id": "c1", "coins": 10}
    assert fan_levels.gift_parts(v1) == [("c1", 10)]


def test_the_catalog_has_an_exclusive_gift_from_level_5():
    catalog = load_catalog()
    assert catalog.min_fan_level("fan_crown") == 5
    assert catalog.min_fan_level("rose") == 0 and catalog.min_fan_level("nope") == 0
    assert level(fan_levels.LEVELS[4]) == 5
