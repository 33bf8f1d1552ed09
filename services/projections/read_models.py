"""Read models: each folds a batch of fresh events into per-key deltas, then writes them with
one UNNEST upsert, so a batch costs a few statements whatever its size."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from schemas.envelope import Envelope
from schemas.events.base import Payload


@dataclass
class Fact:
    envelope: Envelope
    payload: Payload


class Deltas:
    """Summed integer columns per key, plus the latest event time seen for the key."""

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns
        self.rows: dict[str, list[int]] = defaultdict(lambda: [0] * len(columns))
        self.last: dict[str, datetime] = {}

    def add(self, key: str, when: datetime, **amounts: int) -> None:
        row = self.rows[key]
        for name, amount in amounts.items():
            row[self.columns.index(name)] += amount
        if key not in self.last or when > self.last[key]:
            self.last[key] = when

    async def upsert(self, conn: asyncpg.Connection, table: str, key_column: str) -> None:
        if not self.rows:
            return
        keys = list(self.rows)
        cols = ", ".join(self.columns)
        unnest_args = ", ".join(f"${i + 3}::bigint[]" for i in range(len(self.columns)))
        updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in self.columns)
        await conn.execute(
            f"INSERT INTO {table} ({key_column}, last_event_time, {cols})"
            f" SELECT * FROM unnest($1::text[], $2::timestamptz[], {unnest_args})"
            f" ON CONFLICT ({key_column}) DO UPDATE SET {updates},"
            f" last_event_time = GREATEST({table}.last_event_time, EXCLUDED.last_event_time)",
            keys, [self.last[k] for k in keys],
            *([self.rows[k][i] for k in keys] for i in range(len(self.columns))))


async def wallet_balances(conn: asyncpg.Connection, facts: list[Fact]) -> None:
    d = Deltas(("purchased", "clawed_back", "gifted", "unlocked", "balance", "events"))
    for f in facts:
        p, t = f.payload, f.envelope.time
        match f.envelope.type:
            case "CoinPurchased":
                d.add(p.user_id, t, purchased=p.coins, balance=p.coins, events=1)
            case "GiftSent":
                d.add(p.sender_id, t, gifted=p.coins, balance=-p.coins, events=1)
    await d.upsert(conn, "wallet_balances", "user_id")


async def creator_earnings(conn: asyncpg.Connection, facts: list[Fact]) -> None:
    d = Deltas(("gifts_received", "diamonds_earned", "diamonds_pending", "diamonds_paid",
                "events"))
    for f in facts:
        p, t = f.payload, f.envelope.time
        match f.envelope.type:
            case "DiamondsCredited":
                d.add(p.creator_id, t, gifts_received=1, diamonds_earned=p.diamonds, events=1)
            case "PayoutRequested":
                d.add(p.creator_id, t, diamonds_pending=p.diamonds, events=1)
    await d.upsert(conn, "creator_earnings", "creator_id")


READ_MODELS = {"wallet_balances": wallet_balances, "creator_earnings": creator_earnings}
