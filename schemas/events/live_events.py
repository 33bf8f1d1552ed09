"""Ticketed exclusive live events: a creator schedules one (price, capacity, start), fans buy
tickets whose coins are held until it starts (then the creator earns them) or it is cancelled
(then every buyer gets their coins back: the one refund the platform makes).

A live event's own events are on the stream `live-event-<id>`; a ticket bought or refunded
moves a wallet, so it is on the fan's stream `wallet-<fan>` like every other spend."""

from datetime import datetime

from pydantic import Field

from schemas.events.base import Payload
from schemas.money import Coins, Rate
from schemas.text import Id, Text


class LiveEventScheduled(Payload):
    """A creator put an exclusive live event on sale. The rates in force are fixed here: every
    ticket of the event is bought, and its coins earned, at them."""

    event_type = "LiveEventScheduled"

    live_event_id: Id
    creator_id: Id
    title: Text
    coins: Coins = Field(gt=0, description="The price of one ticket")
    capacity: int = Field(gt=0, description="Tickets on sale; never more are sold")
    starts_at: datetime
    diamonds_per_coin: Rate = Field(description="Coin->diamond rate its tickets earn at")
    commission_rate: Rate = Field(description="Platform share of the tickets' value")
    rates_version: int


class TicketPurchased(Payload):
    """Coins left the fan's wallet for a ticket; they are held (nobody earns them) until the
    event starts or is cancelled."""

    event_type = "TicketPurchased"

    ticket_id: Id
    live_event_id: Id
    fan_id: Id
    creator_id: Id
    coins: Coins = Field(gt=0)
    diamonds_per_coin: Rate
    commission_rate: Rate
    rates_version: int
    balance_after: int
    seats_sold: int = Field(gt=0, description="Tickets of the event sold with this one")


class TicketRefunded(Payload):
    """The event was cancelled: the ticket's coins went back to the fan's wallet."""

    event_type = "TicketRefunded"

    ticket_id: Id
    live_event_id: Id
    fan_id: Id
    coins: Coins = Field(gt=0)
    balance_after: int


class LiveEventCancelled(Payload):
    """The creator cancelled before the start; each ticket has its own TicketRefunded."""

    event_type = "LiveEventCancelled"

    live_event_id: Id
    creator_id: Id
    tickets_refunded: int = Field(ge=0)
    coins_refunded: Coins


class LiveEventStarted(Payload):
    """The event started: ticket sales closed and the tickets' held coins are settled to the
    creator, who earns floor(coins x diamonds_per_coin) diamonds (payout-consumer)."""

    event_type = "LiveEventStarted"

    live_event_id: Id
    creator_id: Id
    tickets_settled: int = Field(ge=0)
    coins: Coins = Field(description="The settled tickets' coins, all of them")
    diamonds_per_coin: Rate
    commission_rate: Rate
    rates_version: int
