"""The unlock batch's decisions, without a database: the refusal order one unlock alone has,
arrival order against running balances, a (user, item) pair unlocked once, refusals that leave
the others alone."""

from datetime import UTC, date, datetime
from itertools import count
from uuid import UUID

from eventkit.auth import Caller
from eventkit.problems import DomainError
from policy.eligibility import load_policy
from services.gifting.errors import (
    Banned,
    InsufficientCoins,
    ItemNotFound,
    NotEligible,
    PriceChanged,
    RecipientNotEligible,
    SelfUnlock,
)
from services.gifting.rules import Profile
from services.gifting.spend_decide import Replay, Wallet
from services.gifting.unlock_decide import (
    Accepted,
    AlreadyUnlocked,
    Item,
    UnlockCommand,
    Unlocked,
    UnlockRows,
    decide,
    final_wallets,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADULT = Profile("US", date(1990, 1, 1), "personal")
ITEMS = {
    "video-1": Item("creator-1", 300, ADULT, False),
    "video-2": Item("creator-1", 100, ADULT, False),
    "feature": Item(None, 50, None, False),  # a platform item: no owner to check
}


def ids():
    n = count(1)
    return lambda: UUID(int=next(n))


def unlock(fan: str, key: str, item: str = "video-1", coins: int | None = None, **claims):
    caller = Caller(user_id=fan, country="US", birthdate=claims.get("birthdate", date(1990, 1, 1)))
    shown = ITEMS[item].coins if coins is None and item in ITEMS else coins or 1
    return UnlockCommand(caller, key, f"hash-{key}", item, shown, NOW)


def rows(commands, wallets, *, fresh=None, items=None, unlocked=None, banned=()) -> UnlockRows:
    return UnlockRows(
        fresh=frozenset(c.claim for c in commands) if fresh is None else frozenset(fresh),
        items=ITEMS if items is None else items,
        unlocked=unlocked or {},
        wallets={u: Wallet(b, 1) for u, b in wallets.items()},
        banned_from_gift=frozenset(banned),
        now=NOW,
    )


def test_one_fans_unlocks_apply_in_arrival_order_against_the_running_balance():
    commands = [
        unlock("fan-1", "k1", "video-1"),  # 300 of 450
        unlock("fan-1", "k2", "video-2"),  # 100 of 150
        unlock("fan-1", "k3", "feature"),  # 50 of 50
        unlock("fan-2", "k4", "video-2"),  # another fan's wallet is its own
    ]
    out = decide(commands, rows(commands, {"fan-1": 400, "fan-2": 100}), load_policy(), ids())
    assert [type(d) for d in out] == [Accepted, Accepted, InsufficientCoins, Accepted]
    assert [d.unlock.balance_after for d in out if isinstance(d, Accepted)] == [100, 0, 0]
    assert [d.wallet_version for d in out if isinstance(d, Accepted)] == [2, 3, 2]
    assert out[2].extra["balance"] == 0
    assert final_wallets(out) == {"fan-1": Wallet(0, 3), "fan-2": Wallet(0, 2)}
    assert all(d.unlock.unlocked_at == NOW for d in out if isinstance(d, Accepted))


def test_a_pair_is_unlocked_once_inside_a_batch_and_the_second_charges_nothing():
    commands = [unlock("fan-1", f"k{i}") for i in range(3)]
    out = decide(commands, rows(commands, {"fan-1": 1000}), load_policy(), ids())
    assert [type(d) for d in out] == [Accepted, AlreadyUnlocked, AlreadyUnlocked]
    assert out[1].unlock == out[2].unlock == out[0].unlock
    assert final_wallets(out) == {"fan-1": Wallet(700, 2)}


def test_a_refused_first_unlock_leaves_the_pair_to_the_next_one():
    commands = [unlock("fan-1", "k1", coins=250), unlock("fan-1", "k2")]  # stale price first
    out = decide(commands, rows(commands, {"fan-1": 300}), load_policy(), ids())
    assert isinstance(out[0], PriceChanged) and out[0].extra["coins"] == 300
    assert isinstance(out[1], Accepted) and out[1].unlock.balance_after == 0


def test_a_pair_unlocked_by_an_earlier_batch_is_answered_with_that_unlock():
    before = Unlocked(UUID(int=99), 300, 700, datetime(2026, 11, 30, tzinfo=UTC))
    commands = [unlock("fan-1", "k1", coins=5)]  # whatever price it names now
    out = decide(
        commands,
        rows(commands, {"fan-1": 0}, unlocked={("fan-1", "video-1"): before}, banned=["fan-1"]),
        load_policy(),
        ids(),
    )
    assert out == [AlreadyUnlocked(commands[0], before)]


def test_a_used_key_is_a_replay_whatever_else_is_wrong():
    commands = [unlock("fan-1", "k1", "nope")]
    out = decide(commands, rows(commands, {}, fresh=[]), load_policy(), ids())
    assert out == [Replay(commands[0])]


def test_refusals_come_in_the_order_one_unlock_alone_checks_them():
    def first_refusal(command, **kw) -> type:
        (d,) = decide([command], rows([command], {"fan-1": 0}, **kw), load_policy(), ids())
        assert isinstance(d, DomainError)
        return type(d)

    banned_owner = {"video-1": Item("creator-1", 300, ADULT, True)}
    minor = date(2015, 1, 1)
    assert first_refusal(unlock("fan-1", "k", "nope")) is ItemNotFound
    assert first_refusal(unlock("creator-1", "k")) is SelfUnlock
    assert first_refusal(unlock("fan-1", "k", birthdate=minor), banned=["fan-1"]) is NotEligible
    assert first_refusal(unlock("fan-1", "k", coins=1), banned=["fan-1"]) is Banned
    assert first_refusal(unlock("fan-1", "k", coins=1), items=banned_owner) is PriceChanged
    assert first_refusal(unlock("fan-1", "k"), items=banned_owner) is RecipientNotEligible
    assert first_refusal(unlock("fan-1", "k")) is InsufficientCoins


def test_owners_who_could_not_receive_a_gift_are_refused_and_platform_items_have_none():
    unknown = {"video-1": Item("creator-1", 300, None, False)}
    minor = {"video-1": Item("creator-1", 300, Profile("US", date(2015, 1, 1), "personal"), False)}
    for items, why in [(unknown, "unknown to gifting"), (minor, "cannot earn")]:
        command = unlock("fan-1", "k")
        (d,) = decide([command], rows([command], {"fan-1": 300}, items=items), load_policy())
        assert isinstance(d, RecipientNotEligible) and why in d.detail
    command = unlock("fan-1", "k", "feature")
    (d,) = decide([command], rows([command], {"fan-1": 50}), load_policy(), ids())
    assert isinstance(d, Accepted) and d.item.owner_id is None


def test_a_refused_unlock_changes_nothing_for_the_others():
    commands = [
        unlock("fan-1", "k1", "nope"),
        unlock("fan-2", "k2", birthdate=date(2015, 1, 1)),
        unlock("fan-1", "k3"),
    ]
    out = decide(commands, rows(commands, {"fan-1": 300, "fan-2": 300}), load_policy(), ids())
    assert [type(d) for d in out] == [ItemNotFound, NotEligible, Accepted]
    assert final_wallets(out) == {"fan-1": Wallet(0, 2)}
