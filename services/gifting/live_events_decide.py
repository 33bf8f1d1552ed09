"""The rules of ticketed live events, as pure functions over the event's row as the command's
transaction locked it (live_events_store reads and writes it).

An event is `scheduled` (on sale) until its creator starts it (`started`: sales close, the held
coins are settled to the creator) or cancels it (`cancelled`: every ticket is refunded). Both
are decided on the row locked FOR UPDATE, so a cancel racing a start sees the other's outcome
and is refused: exactly one of them happens.

The creator starts the event (POST .../start), from START_EARLY before its start time on; no
worker starts one on its own, so a creator who is late keeps selling until they go live.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from eventkit.problems import DomainError, Forbidden
from services.gifting.errors import PriceChanged
from services.gifting.live_events_errors import (
    InvalidStartTime,
    LiveEventClosed,
    LiveEventNotFound,
    SelfTicket,
    SoldOut,
    TooEarlyToStart,
)

START_EARLY = timedelta(minutes=15)  # a creator may go live this long before the start time
MAX_AHEAD = timedelta(days=365)  # how far ahead an event may be scheduled


@dataclass(frozen=True)
class LiveEvent:
    live_event_id: str
    creator_id: str
    title: str
    coins: int
    capacity: int
    sold: int
    starts_at: datetime
    state: str  # scheduled | started | cancelled
    diamonds_per_coin: Decimal
    commission_rate: Decimal
    rates_version: int
    version: int

    @property
    def seats_left(self) -> int:
        return self.capacity - self.sold


def schedule_refusal(starts_at: datetime, now: datetime) -> DomainError | None:
    if starts_at <= now:
        return InvalidStartTime(f"{starts_at.isoformat()} is not in the future")
    if starts_at - now > MAX_AHEAD:
        return InvalidStartTime(f"an event starts at most {MAX_AHEAD.days} days ahead")
    return None


def _closed(event: LiveEvent) -> LiveEventClosed:
    return LiveEventClosed(f"{event.live_event_id} is {event.state}", state=event.state)


def ticket_refusal(
    live_event_id: str, event: LiveEvent | None, fan_id: str, coins_shown: int
) -> DomainError | None:
    """Why this fan (who holds no ticket to it yet) may not buy a ticket, before the balance
    is checked (in this order), or None."""
    if event is None:
        return LiveEventNotFound(live_event_id)
    if event.creator_id == fan_id:
        return SelfTicket()
    if event.state != "scheduled":
        return _closed(event)
    if event.coins != coins_shown:
        return PriceChanged(
            f"a ticket costs {event.coins} coins, not {coins_shown}", coins=event.coins
        )
    if event.sold >= event.capacity:
        return SoldOut(f"all {event.capacity} tickets are sold")
    return None


def _owned(live_event_id: str, event: LiveEvent | None, caller_id: str) -> DomainError | None:
    if event is None:
        return LiveEventNotFound(live_event_id)
    if event.creator_id != caller_id:
        # not 404: the event is public (GET); only its creator may start or cancel it
        return Forbidden("only the event's creator may start or cancel it")
    if event.state != "scheduled":
        return _closed(event)
    return None


def start_refusal(
    live_event_id: str, event: LiveEvent | None, caller_id: str, now: datetime
) -> DomainError | None:
    refusal = _owned(live_event_id, event, caller_id)
    if refusal or event is None:
        return refusal
    if now < event.starts_at - START_EARLY:
        return TooEarlyToStart(
            f"starts at {event.starts_at.isoformat()}; it can go live from"
            f" {int(START_EARLY.total_seconds() // 60)} minutes before",
            starts_at=event.starts_at.isoformat(),
        )
    return None


def cancel_refusal(
    live_event_id: str, event: LiveEvent | None, caller_id: str
) -> DomainError | None:
    return _owned(live_event_id, event, caller_id)
