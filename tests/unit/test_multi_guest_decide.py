"""The pure parts of multi-guest gifts, battles and goals: the split (a property test against
the reconcile's own formula), whom a room gift is for and who refuses it, the goal and battle
tallies in arrival order."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from eventkit.auth import Caller
from policy.eligibility import load_policy
from schemas.events.gifting import GiftContext, GiftSentV2, Recipient
from scripts.reconcile_splits import expected_credits, split_discrepancies
from services.gifting.catalog import GiftPrice
from services.gifting.errors import RecipientNotEligible, RecipientNotFound
from services.gifting.gift_decide import Accepted, BatchRows, GiftCommand, Wallet, decide
from services.gifting.goals_decide import Goal, Side, tally_goals, tally_sides
from services.gifting.rooms_decide import recipients_of, recipients_refusal
from services.gifting.rooms_errors import RoomNotFound, SenderIsRecipient
from services.gifting.rules import Profile

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADULT = Profile("US", date(1990, 1, 1), "personal")
MINOR = Profile("US", date(2015, 1, 1), "personal")


@st.composite
def shares(draw) -> tuple[int, ...]:
    """1-9 positive shares summing to 10,000 bp."""
    n = draw(st.integers(1, 9))
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), min_size=n - 1, max_size=n - 1)))
    points = [0, *cuts, 10_000]
    return tuple(b - a for a, b in zip(points, points[1:], strict=False))


def gift_v2(coins: int, rate: str, bps: tuple[int, ...]) -> GiftSentV2:
    return GiftSentV2(
        gift_id="g-1",
        sender_id="fan",
        recipients=tuple(Recipient(creator_id=f"c{i}", share_bp=bp) for i, bp in enumerate(bps)),
        context=GiftContext(kind="live", id="s"),
        gift_code="rose",
        quantity=1,
        unit_price=coins,
        coins=coins,
        diamonds_per_coin=Decimal(rate),
        commission_rate=Decimal("0.5"),
        rates_version=1,
        catalog_version=1,
        balance_after=0,
    )


@given(
    shares(),
    st.integers(1, 10**9),
    st.sampled_from(["1", "0.5", "0.333", "0.7", "1.25", "0.0001"]),
)
def test_the_split_sums_exactly_and_gives_the_remainder_to_the_host(bps, coins, rate):
    gift = gift_v2(coins, rate, bps)
    parts = gift.split()
    whole = int(Decimal(coins) * Decimal(rate) // 1)
    assert sum(p.diamonds for p in parts) == whole
    assert sum(p.coins for p in parts) == coins
    assert {p.creator_id: p.diamonds for p in parts} == expected_credits(gift)
    host = parts[0]
    own = Decimal(coins) * bps[0] / 10_000 * Decimal(rate)
    assert own - 1 < host.diamonds < own + len(bps)  # its floor share, plus what rounding left
    assert all(p.diamonds >= 0 for p in parts)


def test_reconcile_names_a_split_that_gave_the_remainder_elsewhere():
    gift = gift_v2(7, "1", (5000, 3333, 1667))  # host 4, guests 2 and 1
    assert split_discrepancies(gift, {"c0": 4, "c1": 2, "c2": 1}) == []
    wrong = split_discrepancies(gift, {"c0": 3, "c1": 3, "c2": 1})  # remainder to a guest
    assert len(wrong) == 1 and "c1" in wrong[0]
    short = split_discrepancies(gift, {"c0": 3, "c1": 2, "c2": 1})
    assert len(short) == 2  # per creator, and in all


ROOMS = {"room-1": (3, (("host", 6000), ("g1", 2500), ("g2", 1500)))}


def test_whom_a_gift_is_for():
    assert recipients_of("fan", "cr", None, ROOMS) == (("cr", 10_000),)
    assert recipients_of("fan", None, "room-1", ROOMS) == ROOMS["room-1"][1]
    assert isinstance(recipients_of("fan", None, "room-9", ROOMS), RoomNotFound)
    for sender in ("host", "g2"):
        assert isinstance(recipients_of(sender, None, "room-1", ROOMS), SenderIsRecipient)


def test_one_recipient_who_may_not_receive_refuses_the_whole_gift():
    room = ROOMS["room-1"][1]
    profiles = {"host": ADULT, "g1": ADULT, "g2": ADULT}
    policy = load_policy()
    assert recipients_refusal(room, profiles, frozenset(), policy, NOW) is None
    banned = recipients_refusal(room, profiles, frozenset({"g2"}), policy, NOW)
    assert isinstance(banned, RecipientNotEligible) and "g2" in banned.detail
    minor = recipients_refusal(room, {**profiles, "g1": MINOR}, frozenset(), policy, NOW)
    assert isinstance(minor, RecipientNotEligible) and "g1" in minor.detail
    unknown = recipients_refusal(room, {"host": ADULT, "g1": ADULT}, frozenset(), policy, NOW)
    assert isinstance(unknown, RecipientNotFound)


def ids():
    n = count(1)
    return lambda: UUID(int=next(n))


def command(fan: str, key: str, coins: int = 1, *, room=None, creator="cr", at=NOW, code="rose"):
    return GiftCommand(
        Caller(user_id=fan, country="US", birthdate=date(1990, 1, 1)),
        key,
        f"h-{key}",
        None if room else creator,
        "live",
        "stream-1",
        GiftPrice(code, coins, 1, coins),
        None,
        at,
        room,
    )


def decided(commands, wallets, rooms=ROOMS) -> list:
    rows = BatchRows(
        fresh=frozenset(c.claim for c in commands),
        wallets={u: Wallet(b, 1) for u, b in wallets.items()},
        profiles={u: ADULT for u in ("cr", "host", "g1", "g2")},
        banned_from_gift=frozenset(),
        banned_from_receive=frozenset(),
        rooms=rooms,
    )
    return decide(commands, rows, load_policy(), 1, timedelta(seconds=10), ids())


def test_a_room_gift_is_decided_with_the_rooms_shares_and_debited_once():
    out = decided([command("fan", "k1", 30, room="room-1"), command("fan", "k2", 5)], {"fan": 40})
    assert [type(d) for d in out] == [Accepted, Accepted]
    assert out[0].recipients == ROOMS["room-1"][1] and out[0].balance_after == 10
    assert out[1].recipients == (("cr", 10_000),) and out[1].balance_after == 5
    assert out[0].combo.combo_id != out[1].combo.combo_id  # a room is its own combo target


GOAL = Goal("goal-1", "host", "stream-1", "coins", None, 10, NOW + timedelta(minutes=5), 0, 1)


def test_the_gift_that_crosses_the_target_reaches_it_once_in_arrival_order():
    gifts = decided(
        [command(f"f{i}", f"k{i}", 4) for i in range(5)], {f"f{i}": 9 for i in range(5)}
    )
    (move,) = tally_goals(gifts, [GOAL])
    assert move.goal.progress == 20 and move.reached_by == gifts[2].gift_id  # 4, 8, 12
    # a batch that starts past the target moves progress and reaches nothing
    (later,) = tally_goals(gifts, [replace(GOAL, progress=10)])
    assert later.goal.progress == 30 and later.reached_by is None


def test_a_goal_counts_its_stream_its_gift_and_before_its_deadline_only():
    late = NOW + timedelta(minutes=5)
    gifts = decided(
        [
            command("f", "k1", 3, code="rose"),
            command("f", "k2", 3, code="galaxy"),
            command("f", "k3", 3, code="rose", at=late),
        ],
        {"f": 100},
    )
    roses = replace(GOAL, metric="gifts", gift_code="rose", target=1)
    (move,) = tally_goals(gifts, [roses])
    assert move.goal.progress == 1 and move.reached_by == gifts[0].gift_id
    other_stream = replace(GOAL, stream_id="stream-2")
    assert tally_goals(gifts, [other_stream]) == []


def test_battle_sides_score_their_hosts_gifts_within_the_battle():
    side = Side("b", 0, "host", 0, 0, NOW - timedelta(minutes=1), NOW + timedelta(minutes=1))
    other = replace(side, side=1, host_id="cr")
    gifts = decided(
        [
            command("f", "k1", 30, room="room-1"),
            command("f", "k2", 5),
            command("f", "k3", 7, at=NOW + timedelta(minutes=1)),  # at its end: not counted
        ],
        {"f": 100},
    )
    scored = {s.side: s.score for s in tally_sides(gifts, [side, other])}
    assert scored == {0: 30, 1: 5}
