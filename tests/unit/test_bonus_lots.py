"""Bonus lots without a database: the split of each spend into bonus and purchased coins (bonus
first, the lot that expires soonest first, then the oldest grant), several spends of one fan in
a batch, the debt a chargeback leaves, and the diamonds a bonus part earns (v1, v2 shares)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from uuid import UUID

import pytest

from policy.eligibility import load_policy
from schemas.events.gifting import (
    GiftContext,
    GiftSent,
    GiftSentV2,
    LotDraw,
    Recipient,
)
from schemas.upcast import upcast
from services.gifting.catalog import load_catalog
from services.gifting.errors import InsufficientCoins
from services.gifting.gift_decide import Accepted, decide, final_wallets
from services.gifting.lots import bonus_part
from services.gifting.spend_decide import Debit, Lot, Wallet, debit, spend_order
from tests.unit.test_gift_decide import WINDOW, gift, rows

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def lot(lot_id: str, coins: int, expires_in: timedelta | None, granted_ago=DAY) -> Lot:
    return Lot(lot_id, coins, NOW + expires_in if expires_in else None, NOW - granted_ago)


def ids():
    n = count(1)
    return lambda: UUID(int=next(n))


def wallet(purchased: int, *lots: Lot) -> Wallet:
    bonus = sum(x.remaining for x in lots)
    return Wallet(purchased + bonus, 1, bonus=bonus, lots=tuple(sorted(lots, key=spend_order)))


def test_bonus_coins_go_first_the_lot_expiring_soonest_first_then_the_oldest_grant():
    lots = (
        lot("never", 5, None),
        lot("late", 5, 9 * DAY),
        lot("soon-new", 3, DAY, granted_ago=timedelta(hours=1)),
        lot("soon-old", 2, DAY, granted_ago=2 * DAY),
    )
    assert [x.lot_id for x in sorted(lots, key=spend_order)] == [
        "soon-old",
        "soon-new",
        "late",
        "never",
    ]
    wallets = {"fan": wallet(10, *lots)}
    spent = debit(wallets, "fan", 7)
    assert spent == Debit(18, 2, 8, (("soon-old", 2), ("soon-new", 3), ("late", 2)))
    spent = debit(wallets, "fan", 12)  # the rest of the lots (8), then 4 purchased coins
    assert isinstance(spent, Debit)
    assert spent.draws == (("late", 3), ("never", 5)) and spent.bonus_coins == 8
    assert (spent.balance, spent.bonus) == (6, 0)
    assert wallets["fan"].lots == () and wallets["fan"].purchased == 6


def test_a_fans_spends_in_one_batch_each_see_the_lots_the_one_before_left():
    commands = [gift("fan-1", f"k{i}", coins=4) for i in range(4)]  # 16 asked: 6 bonus + 8 bought
    batch = replace(rows(commands, {}), wallets={"fan-1": wallet(8, lot("a", 6, DAY))})
    out = decide(commands, batch, load_policy(), 2, WINDOW, ids())
    assert [type(d) for d in out[:3]] == [Accepted] * 3
    assert isinstance(out[3], InsufficientCoins)
    accepted = [d for d in out if isinstance(d, Accepted)]
    assert [d.draws for d in accepted] == [(("a", 4),), (("a", 2),), ()]
    assert [d.balance_after for d in accepted] == [10, 6, 2]
    assert final_wallets(out)["fan-1"] == Wallet(2, 4, bonus=0)


def test_a_spender_without_lots_spends_as_before():
    wallets = {"fan": Wallet(10, 3)}
    assert debit(wallets, "fan", 4) == Debit(6, 4, 0, ())


def test_a_lot_past_its_expiry_is_not_open_so_its_coins_are_not_spendable():
    # lots_store reads open lots only: an expired lot the worker has not reached is in `bonus`
    wallets = {"fan": Wallet(15, 1, bonus=10, lots=())}
    refused = debit(wallets, "fan", 6)
    assert isinstance(refused, InsufficientCoins)
    assert isinstance(debit(wallets, "fan", 5), Debit)


def test_a_chargeback_debt_blocks_spending_even_with_bonus_coins_left():
    # 20 bonus coins, purchased part -5 (a chargeback took coins already spent)
    wallets = {"fan": replace(wallet(0, lot("a", 20, None)), balance=15)}
    assert wallets["fan"].purchased == -5 and wallets["fan"].spendable == 0
    assert isinstance(debit(wallets, "fan", 1), InsufficientCoins)
    # once purchases cover the debt, the lots are spendable again, bonus first
    wallets["fan"] = replace(wallets["fan"], balance=25)  # +10 bought: purchased part 5
    spent = debit(wallets, "fan", 22)
    assert isinstance(spent, Debit) and spent.draws == (("a", 20),)


def event(coins: int, bonus: int, recipients, rate="1", bonus_rate="0.5") -> GiftSentV2:
    return GiftSentV2(
        gift_id="g",
        sender_id="fan",
        recipients=tuple(Recipient(creator_id=c, share_bp=bp) for c, bp in recipients),
        context=GiftContext(kind="live", id="s"),
        gift_code="rose",
        quantity=1,
        unit_price=coins,
        coins=coins,
        diamonds_per_coin=Decimal(rate),
        commission_rate=Decimal("0.5"),
        rates_version=1,
        catalog_version=2,
        balance_after=0,
        bonus_coins=bonus,
        bonus_diamonds_per_coin=Decimal(bonus_rate) if bonus else None,
        bonus_lots=(LotDraw(lot_id="l", coins=bonus),) if bonus else (),
    )


def test_a_gift_earns_its_purchased_part_at_the_rate_and_its_bonus_part_at_the_bonus_rate():
    g = event(101, 41, [("host", 10_000)], rate="0.9", bonus_rate="0.5")
    # floor(60 x 0.9) + floor(41 x 0.5) = 54 + 20
    assert [(s.diamonds, s.bonus_coins, s.bonus_diamonds) for s in g.split()] == [(74, 41, 20)]


def test_v2_shares_of_a_bonus_gift_sum_exactly_to_the_whole():
    g = event(1001, 301, [("host", 5000), ("a", 3333), ("b", 1667)], rate="0.333")
    split = g.split()
    whole = (700 * 333) // 1000 + 301 // 2
    assert sum(s.diamonds for s in split) == whole == g.earned()
    assert sum(s.coins for s in split) == 1001
    assert sum(s.bonus_coins for s in split) == 301
    assert sum(s.bonus_diamonds for s in split) == 150
    # a guest: floor(700 x 0.3333 x 0.333) + floor(301 x 0.3333 x 0.5)
    assert split[1].diamonds == (700 * 3333 * 333) // (10_000 * 1000) + (301 * 3333) // 20_000


def test_a_v1_bonus_gift_upcasts_with_its_bonus_part():
    v2 = event(10, 4, [("cr", 10_000)])
    v1 = GiftSent(**v2.model_dump(exclude={"recipients"}), creator_id="cr")
    up = upcast(v1)
    assert isinstance(up, GiftSentV2) and up.bonus_coins == 4 and up.bonus_lots == v2.bonus_lots
    assert [s.diamonds for s in up.split()] == [6 + 2]


def test_a_spend_without_bonus_coins_encodes_as_before():
    plain = event(10, 0, [("cr", 10_000)]).model_dump(mode="json")
    assert not {"bonus_coins", "bonus_diamonds_per_coin", "bonus_lots"} & plain.keys()
    assert bonus_part((), load_catalog()) == {}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"bonus_coins": 11}, "cannot exceed"),
        ({"bonus_diamonds_per_coin": None}, "need their bonus_diamonds_per_coin"),
        ({"bonus_lots": ({"lot_id": "l", "coins": 3},)}, "must sum to bonus_coins"),
    ],
)
def test_a_bonus_part_that_does_not_add_up_is_refused(change, reason):
    doc = event(10, 4, [("cr", 10_000)]).model_dump() | change
    with pytest.raises(ValueError, match=reason):
        GiftSentV2.model_validate(doc)
