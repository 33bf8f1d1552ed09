"""Reconcile: multi-guest splits (docs/multi-guest.md). Every gift gifting recorded (each
version read as v2) is credited by payout as one credit per recipient, each guest's diamonds
floor(coins x share_bp / 10,000 x rate) computed here on its own (not by GiftSentV2.split, the
code under audit), the host the remainder, together floor(coins x rate): no diamond made or
lost by the split."""

from decimal import ROUND_FLOOR, Decimal

from schemas.events.gifting import WHOLE_BP, GiftSentV2
from schemas.registry import payload_model
from schemas.upcast import upcast


def expected_credits(gift: GiftSentV2) -> dict[str, int]:
    """{creator: diamonds} as the contract states it, in exact decimals."""
    # the purchased part at diamonds_per_coin and the bonus part (bonus lots) at its own rate,
    # each floored on its own
    parts = (
        (Decimal(gift.coins - gift.bonus_coins), Decimal(gift.diamonds_per_coin)),
        (Decimal(gift.bonus_coins), Decimal(gift.bonus_diamonds_per_coin or 0)),
    )

    def floor(x: Decimal) -> int:
        return int(x.to_integral_value(rounding=ROUND_FLOOR))

    guests = {
        r.creator_id: sum(floor(coins * r.share_bp / WHOLE_BP * rate) for coins, rate in parts)
        for r in gift.recipients[1:]
    }
    whole = sum(floor(coins * rate) for coins, rate in parts)
    return {gift.host: whole - sum(guests.values()), **guests}


def split_discrepancies(gift: GiftSentV2, credited: dict[str, int]) -> list[str]:
    # A guest whose share earns 0 diamonds may or may not have a credit row of 0: the same.
    want = {c: d for c, d in expected_credits(gift).items() if d}
    credited = {c: d for c, d in credited.items() if d}
    found = []
    if credited != want:
        found.append(f"gift {gift.gift_id}: credited {credited}, its split says {want}")
    if sum(credited.values()) != sum(want.values()):
        found.append(
            f"gift {gift.gift_id}: {sum(credited.values())} diamonds credited in all,"
            f" floor(coins x rate) = {sum(want.values())}"
        )
    return found


async def splits_credited_exactly(db) -> tuple[int, list[str]]:
    credits: dict[str, dict[str, int]] = {}
    for r in await db["payout"].fetch(
        "SELECT source_id, creator_id, diamonds FROM credits WHERE source = 'gift'"
    ):
        credits.setdefault(r["source_id"], {})[r["creator_id"]] = r["diamonds"]
    found, examined = [], 0
    for r in await db["gifting"].fetch(
        "SELECT envelope->>'dataversion' AS v, envelope->'data' AS d FROM events"
        " WHERE event_type = 'GiftSent'"
    ):
        model = payload_model("GiftSent", int(r["v"]))
        if model is None:
            continue  # no consumer reads it either (reported by the diamonds check)
        gift = upcast(model.model_validate(r["d"]))
        assert isinstance(gift, GiftSentV2)
        examined += 1
        found += split_discrepancies(gift, credits.get(gift.gift_id, {}))
    return examined, found


CHECKS = {
    "each gift's credits = its split (guests floor, host the remainder; floor(coins x rate))": (
        splits_credited_exactly
    ),
}
