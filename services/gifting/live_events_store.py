"""The SQL of live events and tickets: each command is one transaction (the caller's
Idempotency-Key claimed first, eventkit.idempotency.run_once) that locks the event's row, asks
live_events_decide, and writes the rows, the ledger entries and the events together.

Lock order: the idempotency key, then the live event's row, then wallets (in user order). A
gift or unlock batch locks keys, profiles and wallets and never a live event, so no cycle.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from eventkit.auth import Caller
from eventkit.codec import new_envelope
from eventkit.eventstore import append
from schemas import topics
from schemas.events.live_events import (
    LiveEventCancelled,
    LiveEventScheduled,
    LiveEventStarted,
    TicketPurchased,
    TicketRefunded,
)
from services.gifting import accounts, spending
from services.gifting.catalog import load_catalog
from services.gifting.errors import RecipientNotEligible
from services.gifting.live_events_decide import (
    LiveEvent,
    cancel_refusal,
    start_refusal,
    ticket_refusal,
)

SOURCE = "/coinstream/gifting"
TICKET, REFUND = "ticket", "ticket_refund"  # their wallet_ledger kinds

_COLUMNS = (
    "live_event_id, creator_id, title, coins, capacity, sold, starts_at, state,"
    " diamonds_per_coin, commission_rate, rates_version, version"
)


def _event(row: asyncpg.Record | None) -> LiveEvent | None:
    return LiveEvent(**dict(row)) if row else None


def stream(live_event_id: str) -> str:
    return f"live-event-{live_event_id}"


async def read(conn: asyncpg.Connection, live_event_id: str) -> LiveEvent | None:
    return _event(
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM live_events WHERE live_event_id = $1", live_event_id
        )
    )


async def lock(conn: asyncpg.Connection, live_event_id: str) -> LiveEvent | None:
    return _event(
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM live_events WHERE live_event_id = $1 FOR UPDATE",
            live_event_id,
        )
    )


async def schedule(
    conn: asyncpg.Connection,
    creator_id: str,
    live_event_id: str,
    title: str,
    coins: int,
    capacity: int,
    starts_at: datetime,
) -> LiveEvent:
    catalog = load_catalog()
    row = await conn.fetchrow(
        "INSERT INTO live_events (live_event_id, creator_id, title, coins, capacity, starts_at,"
        " diamonds_per_coin, commission_rate, rates_version)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        f" RETURNING {_COLUMNS}",
        live_event_id,
        creator_id,
        title,
        coins,
        capacity,
        starts_at,
        catalog.diamonds_per_coin,
        catalog.commission_rate,
        catalog.rates_version,
    )
    event = _event(row)
    assert event is not None
    await append(
        conn,
        topics.GIFTING_EVENTS,
        new_envelope(
            SOURCE,
            LiveEventScheduled(
                live_event_id=live_event_id,
                creator_id=creator_id,
                title=title,
                coins=coins,
                capacity=capacity,
                starts_at=starts_at,
                diamonds_per_coin=event.diamonds_per_coin,
                commission_rate=event.commission_rate,
                rates_version=event.rates_version,
            ),
            aggregate_id=stream(live_event_id),
            aggregate_version=event.version,
            subject=creator_id,
        ),
    )
    return event


@dataclass(frozen=True)
class Ticket:
    ticket_id: UUID
    live_event_id: str
    coins: int
    balance_after: int
    state: str
    created_at: datetime


_TICKET_COLUMNS = "ticket_id, live_event_id, coins, balance_after, state, created_at"


async def ticket_of(conn: asyncpg.Connection, live_event_id: str, fan_id: str) -> Ticket | None:
    row = await conn.fetchrow(
        f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE live_event_id = $1 AND fan_id = $2",
        live_event_id,
        fan_id,
    )
    return Ticket(**dict(row)) if row else None


async def tickets_of(conn: asyncpg.Connection, fan_id: str) -> list[Ticket]:
    rows = await conn.fetch(
        f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE fan_id = $1 ORDER BY created_at", fan_id
    )
    return [Ticket(**dict(r)) for r in rows]


async def buy(
    conn: asyncpg.Connection, caller: Caller, live_event_id: str, coins_shown: int, now: datetime
) -> tuple[Ticket, bool]:
    """(the fan's ticket, bought now). A fan holds one ticket per event: buying again answers
    with the one they hold, whatever else is true now. Capacity holds because `sold` is read
    and bumped under the event's row lock (and the table's CHECK would refuse one too many)."""
    fan = caller.user_id
    event = await lock(conn, live_event_id)
    held = await ticket_of(conn, live_event_id, fan) if event else None
    if held is not None:
        return held, False
    refusal = ticket_refusal(live_event_id, event, fan, coins_shown)
    if refusal:
        raise refusal
    assert event is not None
    await spending.check_spender(conn, caller, now)
    if await accounts.banned(conn, event.creator_id, "receive"):
        raise RecipientNotEligible("the event's creator is banned from receiving coins")
    balance, version = await spending.debit(conn, fan, event.coins)
    sold = await conn.fetchval(
        "UPDATE live_events SET sold = sold + 1 WHERE live_event_id = $1 RETURNING sold",
        live_event_id,
    )
    ticket_id, event_id = uuid4(), uuid4()
    envelope = new_envelope(
        SOURCE,
        TicketPurchased(
            ticket_id=str(ticket_id),
            live_event_id=live_event_id,
            fan_id=fan,
            creator_id=event.creator_id,
            coins=event.coins,
            diamonds_per_coin=event.diamonds_per_coin,
            commission_rate=event.commission_rate,
            rates_version=event.rates_version,
            balance_after=balance,
            seats_sold=sold,
        ),
        aggregate_id=f"wallet-{fan}",
        aggregate_version=version,
        subject=live_event_id,
        event_id=event_id,
    )
    created_at = await conn.fetchval(
        "INSERT INTO tickets (ticket_id, live_event_id, fan_id, coins, purchase_event_id,"
        " balance_after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
        ticket_id,
        live_event_id,
        fan,
        event.coins,
        event_id,
        balance,
    )
    await spending.record(conn, fan, TICKET, event.coins, balance, envelope)
    return Ticket(ticket_id, live_event_id, event.coins, balance, "held", created_at), True


async def start(
    conn: asyncpg.Connection, caller_id: str, live_event_id: str, now: datetime
) -> tuple[LiveEvent, int, int]:
    """Starts the event and settles its held tickets to the creator: (event, tickets, coins)."""
    event = await lock(conn, live_event_id)
    refusal = start_refusal(live_event_id, event, caller_id, now)
    if refusal:
        raise refusal
    assert event is not None
    settled = await conn.fetchrow(
        "WITH t AS (UPDATE tickets SET state = 'settled', closed_at = now()"
        " WHERE live_event_id = $1 AND state = 'held' RETURNING coins)"
        " SELECT count(*)::int AS n, coalesce(sum(coins), 0)::bigint AS coins FROM t",
        live_event_id,
    )
    version = await _close(conn, live_event_id, "started")
    await append(
        conn,
        topics.GIFTING_EVENTS,
        new_envelope(
            SOURCE,
            LiveEventStarted(
                live_event_id=live_event_id,
                creator_id=event.creator_id,
                tickets_settled=settled["n"],
                coins=settled["coins"],
                diamonds_per_coin=event.diamonds_per_coin,
                commission_rate=event.commission_rate,
                rates_version=event.rates_version,
            ),
            aggregate_id=stream(live_event_id),
            aggregate_version=version,
            subject=event.creator_id,
        ),
    )
    return event, settled["n"], settled["coins"]


async def _close(conn: asyncpg.Connection, live_event_id: str, state: str) -> int:
    return await conn.fetchval(
        "UPDATE live_events SET state = $2, ended_at = now(), version = version + 1"
        " WHERE live_event_id = $1 RETURNING version",
        live_event_id,
        state,
    )


# The held tickets' buyers' wallets, locked in user order (the order every spend locks them).
_LOCK_BUYERS = """
SELECT user_id FROM wallets WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE
"""
_REFUND = """
WITH t AS (
    UPDATE tickets SET state = 'refunded', closed_at = now()
    WHERE live_event_id = $1 AND state = 'held' RETURNING ticket_id, fan_id, coins)
UPDATE wallets w SET balance = w.balance + t.coins, version = w.version + 1, updated_at = now()
FROM t WHERE w.user_id = t.fan_id
RETURNING t.ticket_id, t.fan_id, t.coins, w.balance, w.version
"""
_REFUND_LEDGER = """
INSERT INTO wallet_ledger (user_id, event_id, kind, delta, balance_after)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[])
"""


async def cancel(
    conn: asyncpg.Connection, caller_id: str, live_event_id: str
) -> tuple[LiveEvent, int, int]:
    """Cancels the event and refunds every held ticket to its buyer, each a TicketRefunded of
    its own (the one refund the platform makes): (event, tickets, coins)."""
    event = await lock(conn, live_event_id)
    refusal = cancel_refusal(live_event_id, event, caller_id)
    if refusal:
        raise refusal
    assert event is not None
    buyers = await conn.fetch(
        "SELECT fan_id FROM tickets WHERE live_event_id = $1 AND state = 'held'", live_event_id
    )
    await conn.fetch(_LOCK_BUYERS, sorted(r["fan_id"] for r in buyers))
    refunds = sorted(await conn.fetch(_REFUND, live_event_id), key=lambda r: r["fan_id"])
    envelopes = [
        new_envelope(
            SOURCE,
            TicketRefunded(
                ticket_id=str(r["ticket_id"]),
                live_event_id=live_event_id,
                fan_id=r["fan_id"],
                coins=r["coins"],
                balance_after=r["balance"],
            ),
            aggregate_id=f"wallet-{r['fan_id']}",
            aggregate_version=r["version"],
            subject=live_event_id,
        )
        for r in refunds
    ]
    if refunds:
        await conn.execute(
            _REFUND_LEDGER,
            [r["fan_id"] for r in refunds],
            [e.id for e in envelopes],
            [REFUND] * len(refunds),
            [r["coins"] for r in refunds],
            [r["balance"] for r in refunds],
        )
    coins = sum(r["coins"] for r in refunds)
    version = await _close(conn, live_event_id, "cancelled")
    envelopes.append(
        new_envelope(
            SOURCE,
            LiveEventCancelled(
                live_event_id=live_event_id,
                creator_id=event.creator_id,
                tickets_refunded=len(refunds),
                coins_refunded=coins,
            ),
            aggregate_id=stream(live_event_id),
            aggregate_version=version,
            subject=event.creator_id,
        )
    )
    await append(conn, topics.GIFTING_EVENTS, *envelopes)
    return event, len(refunds), coins
