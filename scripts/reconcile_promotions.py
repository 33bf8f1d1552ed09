"""Reconcile's invariants of promotions (registered in scripts/reconcile.py; docs/promotions.md):

- each campaign's uses (its promo_redemptions rows, held or made) = its `redeemed` counter,
  never past max_redemptions; each user's uses of a campaign = their promo_user_uses count,
  never past per_user_limit;
- each single-use code is used at most once, and its row names the use that holds it;
- each redeemed use that gives coins is one PromoRedeemed and one BonusCoinsGranted, and one
  lot in gifting (its grant id) of the same user, campaign, coins and expiry; every lot traces
  back to such a use;
- a purchase with a discount code was charged the catalog's price less the recorded discount
  (half-even basis points of that price, computed here, not by the code under audit), and the
  discount's settlement cost is the catalog's settlement less what was settled;
- the projections' promo_campaigns (terms and totals) and promo_redemption_days (per campaign
  and country) equal recharge's campaigns and redeemed uses.
"""

import hashlib
from decimal import ROUND_HALF_EVEN, Decimal

from scripts.reconcile_compare import disagreements, keyed
from services.recharge.pricing import CUSTOM, load_catalog


async def caps_hold(db) -> tuple[int, list[str]]:
    recharge = db["recharge"]
    found = []
    campaigns = await recharge.fetch(
        "SELECT c.campaign_id, c.redeemed, c.max_redemptions, count(r.redemption_id) AS uses"
        " FROM promo_campaigns c LEFT JOIN promo_redemptions r USING (campaign_id)"
        " GROUP BY c.campaign_id ORDER BY c.campaign_id"
    )
    for c in campaigns:
        if c["uses"] > c["max_redemptions"]:
            found.append(
                f"campaign {c['campaign_id']}: {c['uses']} redemptions, past its cap of"
                f" {c['max_redemptions']}"
            )
        if c["uses"] != c["redeemed"]:
            found.append(
                f"campaign {c['campaign_id']}: counter says {c['redeemed']} redeemed, it has"
                f" {c['uses']} redemptions"
            )
    users = await recharge.fetch(
        "SELECT campaign_id, user_id, coalesce(u.used, 0) AS counted, count(r.redemption_id)"
        " AS uses, c.per_user_limit FROM promo_user_uses u"
        " FULL JOIN (SELECT campaign_id, user_id, redemption_id FROM promo_redemptions) r"
        " USING (campaign_id, user_id) JOIN promo_campaigns c USING (campaign_id)"
        " GROUP BY 1, 2, 3, 5 ORDER BY 1, 2"
    )
    for u in users:
        who = f"campaign {u['campaign_id']} user {u['user_id']}"
        if u["uses"] > u["per_user_limit"]:
            found.append(f"{who}: {u['uses']} redemptions, past {u['per_user_limit']} per user")
        if u["uses"] != u["counted"]:
            found.append(f"{who}: counted {u['counted']} uses, has {u['uses']} redemptions")
    return len(campaigns) + len(users), found


async def single_use_codes_used_once(db) -> tuple[int, list[str]]:
    recharge = db["recharge"]
    holders = {
        r["code_hash"]: (r["campaign_id"], r["redemption_id"])
        for r in await recharge.fetch(
            "SELECT code_hash, campaign_id, redemption_id FROM promo_codes WHERE single_use"
        )
    }
    uses: dict[bytes, list] = {}
    for r in await recharge.fetch(
        "SELECT redemption_id, campaign_id, code FROM promo_redemptions WHERE single_use"
        " ORDER BY created_at, redemption_id"
    ):
        # promo_codes keeps only the hash of the canonical code; a use keeps the code it spent
        uses.setdefault(hashlib.sha256(r["code"].encode()).digest(), []).append(r)
    found = []
    for digest, rows in uses.items():
        code, campaign = rows[0]["code"], rows[0]["campaign_id"]
        holder = holders.get(digest)
        if holder is None or holder[0] != campaign:
            found.append(f"code {code}: used in campaign {campaign}, which issued no such code")
            continue
        if len(rows) > 1:
            found.append(
                f"code {code} of campaign {campaign}: single-use, used {len(rows)} times"
                f" ({', '.join(str(r['redemption_id']) for r in rows)})"
            )
        if holder[1] not in {r["redemption_id"] for r in rows}:
            found.append(f"code {code} of campaign {campaign}: held by {holder[1]}, not its use")
    found += [
        f"a code of campaign {campaign} ({digest.hex()[:12]}): held by {held}, which is no use"
        for digest, (campaign, held) in holders.items()
        if held is not None and digest not in uses
    ]
    return len(holders), found


async def grants_are_redemptions_and_lots(db) -> tuple[int, list[str]]:
    redeemed = {
        str(r["redemption_id"]): r
        for r in await db["recharge"].fetch(
            "SELECT redemption_id, campaign_id, user_id, bonus_coins, grant_id::text, expires_at"
            " FROM promo_redemptions WHERE status = 'redeemed'"
        )
    }
    events: dict[tuple[str, str], int] = {}
    for r in await db["recharge"].fetch(
        "SELECT event_type, coalesce(envelope->'data'->>'redemption_id',"
        " envelope->'data'->>'grant_id') AS id FROM events"
        " WHERE event_type IN ('PromoRedeemed', 'BonusCoinsGranted')"
    ):
        events[(r["event_type"], r["id"])] = events.get((r["event_type"], r["id"]), 0) + 1
    lots = {
        r["lot_id"]: (r["user_id"], r["campaign_id"], r["granted"], r["expires_at"])
        for r in await db["gifting"].fetch(
            "SELECT lot_id, user_id, campaign_id, granted, expires_at FROM wallet_lots"
        )
    }
    found = []
    for rid, r in sorted(redeemed.items()):
        what = f"redemption {rid} (campaign {r['campaign_id']}, user {r['user_id']})"
        if events.pop(("PromoRedeemed", rid), 0) != 1:
            found.append(f"{what}: not exactly one PromoRedeemed")
        if (r["bonus_coins"] > 0) != (r["grant_id"] is not None):
            found.append(f"{what}: {r['bonus_coins']} bonus coins, grant {r['grant_id']}")
        if r["grant_id"] is None:
            continue
        if events.pop(("BonusCoinsGranted", r["grant_id"]), 0) != 1:
            found.append(f"{what}: not exactly one BonusCoinsGranted {r['grant_id']}")
        want = (r["user_id"], r["campaign_id"], r["bonus_coins"], r["expires_at"])
        lot = lots.pop(r["grant_id"], None)
        if lot != want:
            found.append(
                f"{what}: granted (user, campaign, coins, expires) {want}, gifting's lot"
                f" {r['grant_id']} is {lot}"
            )
    found += [f"{kind} {i}: no redeemed use of a campaign gave it" for kind, i in sorted(events)]
    found += [f"lot {lot_id}: {lot} traces back to no redemption" for lot_id, lot in lots.items()]
    return len(redeemed), found


def _half_even(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


async def discounts_charged_as_recorded(db) -> tuple[int, list[str]]:
    """Each purchase priced by the current catalog version (an older one's prices are no
    longer known here) against a fresh quote of the same bundle, country and channel."""
    catalog = load_catalog()
    rows = await db["recharge"].fetch(
        "SELECT r.purchase_id, r.campaign_id, r.user_id, c.discount_bp, r.discount_minor,"
        " r.discount_currency, r.discount_settlement_minor, p.bundle_id, p.coins, p.country,"
        " p.channel, p.price_minor, p.price_currency, p.settlement_minor, p.quote"
        " FROM promo_redemptions r JOIN promo_campaigns c USING (campaign_id)"
        " JOIN purchases p USING (purchase_id) WHERE c.discount_bp IS NOT NULL"
        " ORDER BY r.purchase_id"
    )
    found, examined = [], 0
    for r in rows:
        if r["quote"]["catalog_version"] != catalog.version:
            continue
        examined += 1
        if r["bundle_id"] == CUSTOM:
            quote = catalog.quote_custom(r["coins"], r["country"], r["channel"])
        else:
            quote = catalog.quote(r["bundle_id"], r["country"], r["channel"])
        list_price = quote.price.amount_minor
        off = _half_even(Decimal(list_price) * r["discount_bp"] / 10_000)
        what = f"purchase {r['purchase_id']} (campaign {r['campaign_id']}, user {r['user_id']})"
        if (r["discount_minor"], r["discount_currency"]) != (off, quote.price.currency):
            found.append(
                f"{what}: recorded discount {r['discount_minor']} {r['discount_currency']},"
                f" {r['discount_bp']} bp of {list_price} {quote.price.currency} is {off}"
            )
        if (r["price_minor"], r["price_currency"]) != (
            list_price - r["discount_minor"],
            quote.price.currency,
        ):
            found.append(
                f"{what}: charged {r['price_minor']} {r['price_currency']}, catalog price"
                f" {list_price} less the discount {r['discount_minor']}"
            )
        if r["discount_settlement_minor"] != quote.settlement.amount_minor - r["settlement_minor"]:
            found.append(
                f"{what}: discount cost {r['discount_settlement_minor']} in settlement, the"
                f" catalog settles {quote.settlement.amount_minor} and it settled"
                f" {r['settlement_minor']}"
            )
    return examined, found


async def read_models_match(db) -> tuple[int, list[str]]:
    totals = (
        "count(r.redemption_id), coalesce(sum(r.bonus_coins), 0)::bigint,"
        " coalesce(sum(r.discount_minor), 0)::bigint,"
        " coalesce(sum(r.discount_settlement_minor), 0)::bigint"
    )
    live = {
        r["campaign_id"]: (
            *tuple(r)[1:4],
            ",".join(r["countries"]) if r["countries"] is not None else None,
            *tuple(r)[5:],
        )
        for r in await db["recharge"].fetch(
            "SELECT c.campaign_id, c.name, c.kind, c.max_redemptions, c.countries,"
            " c.per_user_limit, c.bonus_coins, c.discount_bp, c.bonus_expires_after_days,"
            " (SELECT count(*) FROM promo_codes k WHERE k.campaign_id = c.campaign_id"
            f" AND k.single_use), {totals} FROM promo_campaigns c LEFT JOIN promo_redemptions r"
            " ON r.campaign_id = c.campaign_id AND r.status = 'redeemed' GROUP BY c.campaign_id"
        )
    }
    projected = await keyed(
        db["projections"],
        "SELECT campaign_id, name, kind, max_redemptions, countries, per_user_limit,"
        " reward_coins, discount_bp, bonus_expires_after_days, codes_issued, redemptions,"
        " bonus_coins, discount_minor, discount_settlement_minor FROM promo_campaigns",
    )
    figures = (
        "(name, kind, cap, countries, per user, reward coins, discount bp, expiry days,"
        " codes issued, redemptions, bonus coins, discount, discount settled)"
    )
    found = disagreements("campaign", figures, "recharge", live, "promo_campaigns", projected)
    by_country = {
        (r["campaign_id"], r["country"]): tuple(r)[2:]
        for r in await db["recharge"].fetch(
            f"SELECT r.campaign_id, r.country, {totals} FROM promo_redemptions r"
            " WHERE r.status = 'redeemed' GROUP BY 1, 2"
        )
    }
    days = {
        (r["campaign_id"], r["country"]): tuple(r)[2:]
        for r in await db["projections"].fetch(
            "SELECT campaign_id, country, sum(redemptions)::bigint, sum(bonus_coins)::bigint,"
            " sum(discount_minor)::bigint, sum(discount_settlement_minor)::bigint"
            " FROM promo_redemption_days GROUP BY 1, 2"
        )
    }
    found += [
        f"campaign {k[0]} in {k[1]}: recharge says (redemptions, bonus coins, discount,"
        f" discount settled) = {by_country.get(k)}, promo_redemption_days says {days.get(k)}"
        for k in sorted(by_country.keys() | days.keys())
        if by_country.get(k) != days.get(k)
    ]
    return len(live) + len(by_country), found


CHECKS = {
    "promotions: uses = the counters, within each campaign's and user's cap": caps_hold,
    "promotions: each single-use code used at most once": single_use_codes_used_once,
    "promotions: each redemption's events and bonus lot, each lot's redemption": (
        grants_are_redemptions_and_lots
    ),
    "promotions: discounted purchases charged the catalog price less the discount": (
        discounts_charged_as_recorded
    ),
    "promotions: read models agree with recharge": read_models_match,
}
