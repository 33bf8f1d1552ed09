"""Bonus lots on a spend's event (docs/bonus-lots.md): the part of its coins the spend took from
lots, and the policy rate those coins earn the creator at, recorded on the event."""

from typing import Any

from schemas.events.gifting import LotDraw
from services.gifting.catalog import GiftCatalog
from services.gifting.spend_decide import Draw, drawn


def bonus_part(draws: tuple[Draw, ...], catalog: GiftCatalog) -> dict[str, Any]:
    """The BonusPart fields of a spend that drew on `draws` (none when it drew on no lot, so
    its event encodes as a spend without lots always did)."""
    if not draws:
        return {}
    return {
        "bonus_coins": drawn(draws),
        "bonus_diamonds_per_coin": catalog.bonus_diamonds_per_coin,
        "bonus_lots": tuple(LotDraw(lot_id=lot, coins=coins) for lot, coins in draws),
    }
