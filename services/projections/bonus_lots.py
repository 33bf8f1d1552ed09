"""Read models of bonus lots (docs/bonus-lots.md), folded from the recharge topic's grants and
the gifting topic's spends and expiries with order-independent sums and first/last values, so a
rebuild equals live:

- `bonus_lots`: one row per lot: whose, which campaign, granted / spent / expired / outstanding
  coins, when it expires;
- `bonus_wallets`: one row per user: the same figures over their lots (outstanding: the bonus
  part of their balance; wallet_balances.balance - outstanding is the purchased part), so the
  platform's coin liabilities split into marketing's and fans';
- `bonus_creator_earnings`: one row per creator: the coins they received from bonus lots and the
  diamonds those earned at the bonus rate recorded on each spend (part of their earnings in
  creator_earnings, shown apart)."""

from typing import TYPE_CHECKING

from schemas.events.bonus import BonusCoinsExpired
from schemas.events.gifting import ContentUnlocked, GiftSentV2
from schemas.events.promotions import BonusCoinsGranted
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

PLATFORM = "platform"
LAST = Column("last_event_time", "timestamptz", MAX)
FIGURES = (
    Column("granted", "bigint"),
    Column("spent", "bigint"),
    Column("expired", "bigint"),
    Column("outstanding", "bigint"),
)
LOTS = Table(
    "bonus_lots",
    (Column("lot_id", "text"),),
    (
        Column("user_id", "text", MAX),
        Column("campaign_id", "text", MAX),
        Column("source", "text", MAX),
        Column("purchase_id", "text", MAX),
        *FIGURES,
        Column("spends", "bigint"),
        Column("expires_at", "timestamptz", MAX),
        Column("granted_at", "timestamptz", MIN),
        Column("expired_at", "timestamptz", MIN),
        LAST,
    ),
)
WALLETS = Table(
    "bonus_wallets", (Column("user_id", "text"),), (*FIGURES, Column("lots", "bigint"), LAST)
)
CREATORS = Table(
    "bonus_creator_earnings",
    (Column("creator_id", "text"),),
    (
        Column("spends", "bigint"),
        Column("bonus_coins", "bigint"),
        Column("bonus_diamonds", "bigint"),
        LAST,
    ),
)
TABLES = (LOTS, WALLETS, CREATORS)


def fold_bonus_lots(facts: "list[Fact]") -> list[Rows]:
    lots, wallets, creators = LOTS.rows(), WALLETS.rows(), CREATORS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case BonusCoinsGranted():
                lots.add(
                    (p.grant_id,),
                    user_id=p.user_id,
                    campaign_id=p.campaign_id,
                    source=p.source,
                    purchase_id=p.purchase_id,
                    granted=p.coins,
                    outstanding=p.coins,
                    expires_at=p.expires_at,
                    granted_at=t,
                    last_event_time=t,
                )
                wallets.add(
                    (p.user_id,), granted=p.coins, outstanding=p.coins, lots=1, last_event_time=t
                )
            case BonusCoinsExpired():
                lots.add(
                    (p.lot_id,),
                    user_id=p.user_id,
                    campaign_id=p.campaign_id,
                    expired=p.coins,
                    outstanding=-p.coins,
                    expired_at=p.expired_at,
                    last_event_time=t,
                )
                wallets.add((p.user_id,), expired=p.coins, outstanding=-p.coins, last_event_time=t)
            case GiftSentV2() | ContentUnlocked() if p.bonus_coins:
                spender = p.sender_id if isinstance(p, GiftSentV2) else p.user_id
                for draw in p.bonus_lots:
                    lots.add(
                        (draw.lot_id,),
                        user_id=spender,
                        spent=draw.coins,
                        outstanding=-draw.coins,
                        spends=1,
                        last_event_time=t,
                    )
                wallets.add(
                    (spender,), spent=p.bonus_coins, outstanding=-p.bonus_coins, last_event_time=t
                )
                for creator, coins, diamonds in bonus_earnings(p):
                    creators.add(
                        (creator,),
                        spends=1,
                        bonus_coins=coins,
                        bonus_diamonds=diamonds,
                        last_event_time=t,
                    )
    return [lots, wallets, creators]


def bonus_earnings(p: GiftSentV2 | ContentUnlocked) -> list[tuple[str, int, int]]:
    """(creator, bonus coins, diamonds they earned) of a spend, as payout credits them."""
    if isinstance(p, GiftSentV2):
        return [(s.creator_id, s.bonus_coins, s.bonus_diamonds) for s in p.split()]
    if p.owner_id == PLATFORM:
        return []
    return [(p.owner_id, p.bonus_coins, p.bonus_diamonds())]
