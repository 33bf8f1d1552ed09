"""Read model of promotions: each campaign's terms and totals, and its redemptions per UTC day
and country, folded from the recharge topic's promotion events (order-independent sums and
first times, so a rebuild equals live). PromoRedeemed carries what a redemption gave (bonus
coins, or a discount in the charge and the settlement currency); BonusCoinsGranted is the
wallet's side of the same coins (bonus_lots.py) and is not counted again here."""

from datetime import UTC
from typing import TYPE_CHECKING

from schemas.events.promotions import CampaignCreated, PromoCodesIssued, PromoRedeemed
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact


def _sums(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "bigint") for n in names)


TOTALS = (
    "redemptions",
    "bonus_redemptions",
    "bonus_coins",
    "discount_redemptions",
    "discount_minor",
    "discount_settlement_minor",
)
CAMPAIGNS = Table(
    "promo_campaigns",
    (Column("campaign_id", "text"),),
    (
        *(Column(n, "text", MAX) for n in ("name", "kind", "countries", "created_by")),
        *(Column(n, "timestamptz", MAX) for n in ("starts_at", "ends_at")),
        *(
            Column(n, "bigint", MAX)
            for n in ("max_redemptions", "per_user_limit", "reward_coins", "discount_bp")
        ),
        Column("bonus_expires_after_days", "integer", MAX),
        Column("created_at", "timestamptz", MIN),
        *_sums("code_batches", "codes_issued", *TOTALS),
        Column("discount_currency", "text", MAX),
        Column("settlement_currency", "text", MAX),
        Column("last_event_time", "timestamptz", MAX),
    ),
)
DAYS = Table(
    "promo_redemption_days",
    (Column("campaign_id", "text"), Column("day", "date"), Column("country", "text")),
    (
        *_sums(*TOTALS),
        Column("discount_currency", "text", MAX),
        Column("settlement_currency", "text", MAX),
        Column("last_event_time", "timestamptz", MAX),
    ),
)
TABLES = (CAMPAIGNS, DAYS)


def _redeemed(p: PromoRedeemed) -> dict[str, object]:
    off, cost = p.discount, p.discount_settlement
    return dict(
        redemptions=1,
        bonus_redemptions=1 if p.bonus_coins else 0,
        bonus_coins=p.bonus_coins,
        discount_redemptions=1 if off else 0,
        discount_minor=off.amount_minor if off else 0,
        discount_settlement_minor=cost.amount_minor if cost else 0,
        discount_currency=off.currency if off else None,
        settlement_currency=cost.currency if cost else None,
    )


def fold_promotions(facts: "list[Fact]") -> list[Rows]:
    campaigns, days = CAMPAIGNS.rows(), DAYS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case CampaignCreated():
                campaigns.add(
                    (p.campaign_id,),
                    name=p.name,
                    kind=p.kind,
                    countries=",".join(p.countries) if p.countries is not None else None,
                    created_by=p.created_by,
                    starts_at=p.starts_at,
                    ends_at=p.ends_at,
                    max_redemptions=p.max_redemptions,
                    per_user_limit=p.per_user_limit,
                    reward_coins=p.bonus_coins,
                    discount_bp=p.discount_bp,
                    bonus_expires_after_days=p.bonus_expires_after_days,
                    created_at=t,
                    last_event_time=t,
                )
            case PromoCodesIssued():
                campaigns.add(
                    (p.campaign_id,), code_batches=1, codes_issued=p.count, last_event_time=t
                )
            case PromoRedeemed():
                totals = _redeemed(p)
                campaigns.add((p.campaign_id,), **totals, last_event_time=t)
                days.add(
                    (p.campaign_id, t.astimezone(UTC).date(), p.country),
                    **totals,
                    last_event_time=t,
                )
    return [campaigns, days]
