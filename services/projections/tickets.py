"""Read model of ticketed live events: each event's sales, refunds and settlement, folded from
the gifting topic's live event and ticket events (order-independent sums and first times, so
a rebuild equals live)."""

from typing import TYPE_CHECKING

from schemas.events.live_events import (
    LiveEventCancelled,
    LiveEventScheduled,
    LiveEventStarted,
    TicketPurchased,
    TicketRefunded,
)
from services.projections.upsert import MAX, MIN, Column, Rows, Table

if TYPE_CHECKING:
    from services.projections.read_models import Fact

LIVE_EVENTS = Table(
    "live_event_sales",
    (Column("live_event_id", "text"),),
    (
        Column("creator_id", "text", MAX),
        Column("title", "text", MAX),
        Column("coins", "bigint", MAX),  # the ticket price
        Column("capacity", "integer", MAX),
        Column("starts_at", "timestamptz", MAX),
        Column("scheduled_at", "timestamptz", MIN),
        Column("started_at", "timestamptz", MIN),
        Column("cancelled_at", "timestamptz", MIN),
        Column("tickets_sold", "bigint"),
        Column("coins_sold", "bigint"),
        Column("tickets_refunded", "bigint"),
        Column("coins_refunded", "bigint"),
        Column("tickets_settled", "bigint"),
        Column("coins_settled", "bigint"),
        Column("last_event_time", "timestamptz", MAX),
    ),
)
TABLES = (LIVE_EVENTS,)


def fold_live_events(facts: "list[Fact]") -> list[Rows]:
    rows = LIVE_EVENTS.rows()
    for f in facts:
        p, t = f.payload, f.envelope.time
        match p:
            case LiveEventScheduled():
                rows.add(
                    (p.live_event_id,),
                    creator_id=p.creator_id,
                    title=p.title,
                    coins=p.coins,
                    capacity=p.capacity,
                    starts_at=p.starts_at,
                    scheduled_at=t,
                    last_event_time=t,
                )
            case TicketPurchased():
                rows.add(
                    (p.live_event_id,),
                    creator_id=p.creator_id,
                    tickets_sold=1,
                    coins_sold=p.coins,
                    last_event_time=t,
                )
            case TicketRefunded():
                rows.add(
                    (p.live_event_id,),
                    tickets_refunded=1,
                    coins_refunded=p.coins,
                    last_event_time=t,
                )
            case LiveEventCancelled():
                rows.add(
                    (p.live_event_id,), creator_id=p.creator_id, cancelled_at=t, last_event_time=t
                )
            case LiveEventStarted():
                rows.add(
                    (p.live_event_id,),
                    creator_id=p.creator_id,
                    started_at=t,
                    tickets_settled=p.tickets_settled,
                    coins_settled=p.coins,
                    last_event_time=t,
                )
    return [rows]
