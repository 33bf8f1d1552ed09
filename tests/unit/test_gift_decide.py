"""The gift batch's decisions, without a database: arrival order, running balances, combos,
refusals that leave the others alone."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import count
from uuid import UUID

from eventkit.auth import Caller
from policy.eligibility import load_policy
from services.gifting.catalog import GiftPrice
from services.gifting.errors import (
    InsufficientCoins,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    RecipientNotFound,
)
from services.gifting.gift_decide import (
    Accepted,
    BatchRows,
    Combo,
    GiftCommand,
    Replay,
    Wallet,
    decide,
    final_combos,
    final_wallets,
)
from services.gifting.rules import Profile

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=10)
ADULT = Profile("US", date(1990, 1, 1), "personal")


def ids():
    n = count(1)
    return lambda: UUID(int=next(n))


def gift(
    fan: str,
    key: str,
    coins: int = 1,
    creator: str = "creator-1",
    at: datetime = NOW,
    birthdate: date = date(1990, 1, 1),
) -> GiftCommand:
    caller = Caller(user_id=fan, country="US", birthdate=birthdate)
    return GiftCommand(
        caller,
        key,
        f"hash-{key}",
        creator,
        "live",
        "stream-1",
        GiftPrice("rose", coins, 1, coins),
        None,
        at,
    )


def rows(
    commands, wallets, *, fresh=None, banned_gift=(), banned_receive=(), combos=None, profiles=None
) -> BatchRows:
    return BatchRows(
        fresh=frozenset(c.claim for c in commands) if fresh is None else frozenset(fresh),
        wallets={u: Wallet(b, 1) for u, b in wallets.items()},
        profiles=profiles if profiles is not None else {"creator-1": ADULT, "creator-2": ADULT},
        banned_from_gift=frozenset(banned_gift),
        banned_from_receive=frozenset(banned_receive),
        combos=combos or {},
    )


def test_one_fans_gifts_apply_in_arrival_order_against_the_running_balance():
    commands = [gift("fan-1", f"k{i}", coins=3) for i in range(4)]  # 12 coins asked, 10 held
    out = decide(commands, rows(commands, {"fan-1": 10}), load_policy(), 2, WINDOW, ids())
    assert [type(d) for d in out] == [Accepted, Accepted, Accepted, InsufficientCoins]
    assert [d.balance_after for d in out[:3]] == [7, 4, 1]
    assert [d.wallet_version for d in out[:3]] == [2, 3, 4]
    assert out[3].extra["balance"] == 1
    assert final_wallets(out) == {"fan-1": Wallet(1, 4)}


def test_a_refusal_does_not_stop_a_later_gift_that_fits():
    commands = [gift("fan-1", "big", coins=50), gift("fan-1", "small", coins=5)]
    out = decide(commands, rows(commands, {"fan-1": 10}), load_policy(), 2, WINDOW, ids())
    assert isinstance(out[0], InsufficientCoins) and out[1].balance_after == 5


def test_refusals_are_per_command():
    commands = [
        gift("minor", "a", birthdate=date(2015, 1, 1)),
        gift("banned", "b"),
        gift("fan-1", "c", creator="kid"),
        gift("fan-1", "d", creator="creator-2"),
        gift("fan-1", "e", creator="nobody"),
        gift("fan-1", "f"),
    ]
    out = decide(
        commands,
        rows(
            commands,
            {"minor": 5, "banned": 5, "fan-1": 5},
            banned_gift={"banned"},
            banned_receive={"creator-2"},
            profiles={
                "creator-1": ADULT,
                "creator-2": ADULT,
                "kid": Profile("US", date(2015, 1, 1), "personal"),
            },
        ),
        load_policy(),
        2,
        WINDOW,
        ids(),
    )
    assert isinstance(out[0], NotEligible)
    assert out[1].status == 403 and "banned" in out[1].detail
    # A known recipient who may not receive is 403; one gifting has never seen is 404.
    assert isinstance(out[2], RecipientNotEligible) and "at least" in out[2].detail
    assert isinstance(out[3], RecipientNotEligible) and "banned" in out[3].detail
    assert (out[2].status, out[3].status) == (403, 403)
    assert isinstance(out[4], RecipientNotFound) and "unknown" in out[4].detail
    assert (out[4].status, out[4].code) == (404, "recipient-not-found")
    assert isinstance(out[5], Accepted) and out[5].balance_after == 4


def test_a_used_key_is_a_replay_and_spends_nothing():
    commands = [gift("fan-1", "old"), gift("fan-1", "new")]
    out = decide(
        commands,
        rows(commands, {"fan-1": 5}, fresh={("fan-1", "new")}),
        load_policy(),
        2,
        WINDOW,
        ids(),
    )
    assert isinstance(out[0], Replay) and out[1].balance_after == 4


def test_combo_continues_within_the_window_and_counts_every_gift_of_the_batch():
    last = Combo(UUID(int=99), 5, NOW - timedelta(seconds=3))
    commands = [gift("fan-1", f"k{i}", at=NOW + timedelta(milliseconds=i)) for i in range(3)]
    key = commands[0].combo_key
    out = decide(
        commands, rows(commands, {"fan-1": 10}, combos={key: last}), load_policy(), 2, WINDOW, ids()
    )
    assert [d.combo.combo_id for d in out] == [UUID(int=99)] * 3
    assert [d.combo.count for d in out] == [6, 7, 8]
    assert final_combos(out)[key].count == 8


def test_combo_restarts_after_the_window():
    last = Combo(UUID(int=99), 5, NOW - timedelta(seconds=11))
    commands = [gift("fan-1", "k")]
    out = decide(
        commands,
        rows(commands, {"fan-1": 10}, combos={commands[0].combo_key: last}),
        load_policy(),
        2,
        WINDOW,
        ids(),
    )
    assert out[0].combo.combo_id != UUID(int=99) and out[0].combo.count == 1


def test_a_gift_naming_an_old_catalog_is_refused_and_the_next_one_is_not():
    stale = replace(gift("fan-1", "old"), catalog_version=1)
    commands = [stale, replace(gift("fan-1", "now"), catalog_version=2), gift("fan-1", "any")]
    out = decide(commands, rows(commands, {"fan-1": 10}), load_policy(), 2, WINDOW, ids())
    assert isinstance(out[0], PriceChanged) and out[0].extra["catalog_version"] == 2
    assert [d.balance_after for d in out[1:]] == [9, 8]


def test_no_wallet_row_covers_nothing():
    commands = [gift("fan-new", "k")]
    out = decide(commands, rows(commands, {}), load_policy(), 2, WINDOW, ids())
    assert isinstance(out[0], InsufficientCoins) and out[0].extra["balance"] == 0
