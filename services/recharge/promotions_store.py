"""Promotions in PostgreSQL, each function in the caller's transaction: campaigns and their
codes, and the life of one use of a code.

A use is taken (`take`) in the transaction that decides it, in one lock order: the single-use
code's row, then the user's uses of the campaign, then the campaign's row. Each is a
conditional UPDATE (or upsert) that refuses rather than passes a cap, so concurrent uses can
never exceed one. A coupon's use takes effect at once (`redeem`); a purchase code's use is
held by the pending purchase and takes effect when the purchase completes (`redeem`, beside
CoinPurchased) or is given back when it fails (`release`): a failed purchase leaves the code,
the user's count and the campaign's count as they were before it."""

from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from eventkit.streams import EventStreams
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.promotions import (
    BonusCoinsGranted,
    CampaignCreated,
    CampaignKind,
    PromoCodesIssued,
    PromoRedeemed,
)
from schemas.money import Money
from services.recharge.bans import SOURCE
from services.recharge.promotions_decide import Campaign, canonical, code_hash, new_code
from services.recharge.promotions_errors import (
    CampaignNotFound,
    CodeAlreadyUsed,
    CodeExhausted,
    CodeNotFound,
    PerUserLimit,
    SharedCodeTaken,
)

CAMPAIGNS = EventStreams(source=SOURCE, topic=topics.RECHARGE_EVENTS, prefix="campaign")
# A user's redemptions and bonus grants, in order, on one stream: `promo-<user>`.
USERS = EventStreams(source=SOURCE, topic=topics.RECHARGE_EVENTS, prefix="promo")


async def create_campaign(conn: asyncpg.Connection, event: CampaignCreated, now: datetime):
    row = await conn.fetchrow(
        "INSERT INTO promo_campaigns (campaign_id, name, kind, starts_at, ends_at, countries,"
        " max_redemptions, per_user_limit, bonus_coins, discount_bp, bonus_expires_after_days,"
        " shared_code, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        " $10, $11, $12, $13, $14) RETURNING *",
        event.campaign_id,
        event.name,
        event.kind,
        event.starts_at,
        event.ends_at,
        list(event.countries) if event.countries is not None else None,
        event.max_redemptions,
        event.per_user_limit,
        event.bonus_coins,
        event.discount_bp,
        event.bonus_expires_after_days,
        event.shared_code,
        event.created_by,
        now,
    )
    if event.shared_code is not None and not await conn.fetchval(
        "INSERT INTO promo_codes (code_hash, campaign_id, single_use) VALUES ($1, $2, false)"
        " ON CONFLICT DO NOTHING RETURNING true",
        code_hash(event.shared_code),
        event.campaign_id,
    ):
        raise SharedCodeTaken(f"{event.shared_code} belongs to another campaign")
    await CAMPAIGNS.emit(conn, event.campaign_id, 1, event)
    return row


async def campaign(conn: asyncpg.Connection, campaign_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM promo_campaigns WHERE campaign_id = $1", campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id)
    return row


async def issue_codes(
    conn: asyncpg.Connection, campaign_id: str, count: int, issued_by: str
) -> tuple[str, list[str]]:
    """A batch of `count` single-use codes: (batch id, the codes). Only their hashes stay."""
    version = await conn.fetchval(
        "UPDATE promo_campaigns SET version = version + 1 WHERE campaign_id = $1 RETURNING version",
        campaign_id,
    )
    if version is None:
        raise CampaignNotFound(campaign_id)
    batch_id, codes = str(uuid4()), [new_code() for _ in range(count)]
    await conn.execute(
        "INSERT INTO promo_codes (code_hash, campaign_id, single_use, batch_id)"
        " SELECT h, $2, true, $3 FROM unnest($1::bytea[]) AS h",
        [code_hash(c) for c in codes],
        campaign_id,
        batch_id,
    )
    issued = PromoCodesIssued(
        campaign_id=campaign_id, batch_id=batch_id, count=count, issued_by=issued_by
    )
    await CAMPAIGNS.emit(conn, campaign_id, version, issued)
    return batch_id, codes


async def find(conn: asyncpg.Connection, code: str) -> tuple[Campaign, asyncpg.Record]:
    """The campaign of `code` and the code's row; CodeNotFound when there is none."""
    row = await conn.fetchrow(
        "SELECT c.*, k.code_hash, k.single_use FROM promo_codes k"
        " JOIN promo_campaigns c USING (campaign_id) WHERE k.code_hash = $1",
        code_hash(code),
    )
    if row is None:
        raise CodeNotFound("no campaign has this code")
    return Campaign.of(row), row


async def take(
    conn: asyncpg.Connection,
    found: asyncpg.Record,
    code: str,
    user_id: str,
    country: str,
    source: CampaignKind,
    now: datetime,
    purchase_id: UUID | None = None,
    discount: Money | None = None,
    discount_settlement: Money | None = None,
) -> asyncpg.Record:
    """Takes one use of the campaign for `user_id` (refused past a cap) and records it as
    reserved; returns the use's row."""
    redemption_id = uuid4()
    if found["single_use"] and not await conn.fetchval(
        "UPDATE promo_codes SET redemption_id = $2 WHERE code_hash = $1"
        " AND redemption_id IS NULL RETURNING true",
        found["code_hash"],
        redemption_id,
    ):
        raise CodeAlreadyUsed("this code has been redeemed (or is held by a pending purchase)")
    limit = found["per_user_limit"]
    if not await conn.fetchval(
        "INSERT INTO promo_user_uses (campaign_id, user_id, used) VALUES ($1, $2, 1)"
        " ON CONFLICT (campaign_id, user_id) DO UPDATE SET used = promo_user_uses.used + 1"
        " WHERE promo_user_uses.used < $3 RETURNING used",
        found["campaign_id"],
        user_id,
        limit,
    ):
        raise PerUserLimit(f"at most {limit} redemption(s) of this campaign per user")
    if not await conn.fetchval(
        "UPDATE promo_campaigns SET redeemed = redeemed + 1 WHERE campaign_id = $1"
        " AND redeemed < max_redemptions RETURNING redeemed",
        found["campaign_id"],
    ):
        raise CodeExhausted(f"all {found['max_redemptions']} redemptions are taken")
    return await conn.fetchrow(
        "INSERT INTO promo_redemptions (redemption_id, campaign_id, user_id, country, source,"
        " single_use, code, purchase_id, bonus_coins, discount_minor, discount_currency,"
        " discount_settlement_minor, settlement_currency, status, created_at) VALUES ($1, $2,"
        " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'reserved', $14) RETURNING *",
        redemption_id,
        found["campaign_id"],
        user_id,
        country,
        source,
        found["single_use"],
        canonical(code),
        purchase_id,
        found["bonus_coins"] or 0,
        discount.amount_minor if discount else None,
        discount.currency if discount else None,
        discount_settlement.amount_minor if discount_settlement else None,
        discount_settlement.currency if discount_settlement else None,
        now,
    )


async def held_by(conn: asyncpg.Connection, purchase_id: UUID) -> asyncpg.Record | None:
    """The use a pending purchase holds, if any."""
    return await conn.fetchrow(
        "SELECT * FROM promo_redemptions WHERE purchase_id = $1 AND status = 'reserved'",
        purchase_id,
    )


async def redeem(
    conn: asyncpg.Connection, use: asyncpg.Record, now: datetime, cause: Envelope | None = None
) -> list[Envelope]:
    """The use takes effect: PromoRedeemed, and BonusCoinsGranted when it gives coins, on the
    user's stream."""
    found = Campaign.of(await campaign(conn, use["campaign_id"]))
    coins = use["bonus_coins"]
    grant_id = uuid4() if coins else None
    expires_at = found.expires_at(now) if coins else None
    await conn.execute(
        "UPDATE promo_redemptions SET status = 'redeemed', redeemed_at = $2, grant_id = $3,"
        " expires_at = $4 WHERE redemption_id = $1 AND status = 'reserved'",
        use["redemption_id"],
        now,
        grant_id,
        expires_at,
    )
    events = 2 if coins else 1
    last = await conn.fetchval(
        "INSERT INTO promo_streams (user_id, version) VALUES ($1, $2) ON CONFLICT (user_id)"
        " DO UPDATE SET version = promo_streams.version + $2 RETURNING version",
        use["user_id"],
        events,
    )
    purchase_id = str(use["purchase_id"]) if use["purchase_id"] else None
    redeemed = PromoRedeemed(
        redemption_id=str(use["redemption_id"]),
        campaign_id=use["campaign_id"],
        user_id=use["user_id"],
        country=use["country"],
        source=use["source"],
        single_use=use["single_use"],
        purchase_id=purchase_id,
        grant_id=str(grant_id) if grant_id else None,
        bonus_coins=coins,
        discount=discount_of(use),
        discount_settlement=_money(use["discount_settlement_minor"], use["settlement_currency"]),
    )
    out = [await USERS.emit(conn, use["user_id"], last - events + 1, redeemed, cause=cause)]
    if grant_id:
        grant = BonusCoinsGranted(
            grant_id=str(grant_id),
            user_id=use["user_id"],
            coins=coins,
            campaign_id=use["campaign_id"],
            source=use["source"],
            purchase_id=purchase_id,
            expires_at=expires_at,
        )
        out.append(await USERS.emit(conn, use["user_id"], last, grant, cause=cause))
    return out


async def release(conn: asyncpg.Connection, purchase_id: UUID) -> None:
    """A failed purchase gives its use back: the code, the user's count and the campaign's."""
    use = await conn.fetchrow(
        "DELETE FROM promo_redemptions WHERE purchase_id = $1 AND status = 'reserved' RETURNING *",
        purchase_id,
    )
    if use is None:
        return
    await conn.execute(
        "UPDATE promo_codes SET redemption_id = NULL WHERE redemption_id = $1",
        use["redemption_id"],
    )
    await conn.execute(
        "UPDATE promo_user_uses SET used = used - 1 WHERE campaign_id = $1 AND user_id = $2",
        use["campaign_id"],
        use["user_id"],
    )
    await conn.execute(
        "UPDATE promo_campaigns SET redeemed = redeemed - 1 WHERE campaign_id = $1",
        use["campaign_id"],
    )


def discount_of(use: asyncpg.Record) -> Money | None:
    return _money(use["discount_minor"], use["discount_currency"])


def _money(amount_minor: int | None, currency: str | None) -> Money | None:
    if amount_minor is None or currency is None:
        return None
    return Money(amount_minor=amount_minor, currency=currency)
