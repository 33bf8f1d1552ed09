"""Read models of the dashboards' reserve and gifts-per-minute panels (migration
008_dashboard_panels.sql), folded like every other (read_models.py, upsert.py): pure, keyed,
order-independent, so a rebuild equals the live tables row for row.

- The reserve: DiamondsCredited says how many diamonds of a credit are held and until when
  (`held`, `release_at`); DiamondsReleased says how many a creator got back, not which. The
  payout worker releases held credits in release_at order (services/payout/ledger.release_due),
  so the ones still held are the newest whose diamonds add up to held - released: the next
  release is the oldest of those (dashboard/queries.RESERVE walks them newest first).
- Gifts per minute: each live gift counted in its stream's UTC minute of the gift's own time.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from schemas.events.gifting import GiftSentV2
from schemas.events.payout import DiamondsCredited, DiamondsReleased
from services.projections.upsert import MAX, Column, Rows, Table

if TYPE_CHECKING:  # read_models registers these folds, so it imports this module
    from services.projections.read_models import Fact


def C(name: str, type_: str = "bigint", merge: str = "sum") -> Column:
    return Column(name, type_, merge)


LAST = C("last_event_time", "timestamptz", MAX)

RESERVE_LOTS = Table(
    "creator_reserve_lots",
    (C("creator_id", "text"), C("release_at", "timestamptz")),
    (C("credits"), C("diamonds"), LAST),
)
RESERVES = Table(
    "creator_reserves",
    (C("creator_id", "text"),),
    (C("held"), C("released"), LAST),
)
GIFT_MINUTES = Table(
    "stream_gift_minutes",
    (C("stream_id", "text"), C("minute", "timestamptz")),
    (C("creator_id", "text", MAX), C("gifts"), C("quantity"), C("coins"), LAST),
)


def minute(t: datetime) -> datetime:
    """The start of `t`'s minute (a UTC minute: zones differ from UTC by whole minutes)."""
    return t.replace(second=0, microsecond=0)


def fold_reserves(facts: list["Fact"]) -> list[Rows]:
    lots, totals = RESERVE_LOTS.rows(), RESERVES.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case DiamondsCredited() if p.held and p.release_at is not None:
                lots.add(
                    (p.creator_id, p.release_at), credits=1, diamonds=p.held, last_event_time=t
                )
                totals.add((p.creator_id,), held=p.held, last_event_time=t)
            case DiamondsReleased():
                totals.add((p.creator_id,), released=p.diamonds, last_event_time=t)
    return [lots, totals]


def fold_gift_minutes(facts: list["Fact"]) -> list[Rows]:
    rows = GIFT_MINUTES.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        if isinstance(p, GiftSentV2) and p.context.kind == "live":
            rows.add(
                (p.context.id, minute(t)),
                creator_id=p.host,
                gifts=1,
                quantity=p.quantity,
                coins=p.coins,
                last_event_time=t,
            )
    return [rows]
