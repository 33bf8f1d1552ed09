"""Reconciliation: checks every invariant across the services' stores and the read models,
prints a report and exits 1 naming each discrepancy.  `python -m scripts.reconcile`

Reads each service's own database (a read-only audit; services never do this themselves) and
the Kafka topics the outboxes publish to.
"""

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from eventkit.db import init_connection
from eventkit.settings import Settings
from services.payout.conversion import diamonds_for

SERVICES = ("recharge", "gifting", "payout", "projections")


@dataclass
class Report:
    checks: list[tuple[str, int, list[str]]] = field(default_factory=list)

    @property
    def discrepancies(self) -> list[str]:
        return [d for _, _, found in self.checks for d in found]

    def render(self) -> str:
        lines = []
        for name, examined, found in self.checks:
            lines.append(f"{'OK  ' if not found else 'FAIL'} {name} ({examined} examined)")
            lines += [f"       - {d}" for d in found[:20]]
            if len(found) > 20:
                lines.append(f"       ... and {len(found) - 20} more")
        lines.append(f"{len(self.discrepancies)} discrepancies")
        return "\n".join(lines)


Check = Callable[[dict[str, asyncpg.Connection]], Awaitable[tuple[int, list[str]]]]


async def outboxes_drained(db) -> tuple[int, list[str]]:
    found, total = [], 0
    for service in ("recharge", "gifting", "payout"):
        unsent = await db[service].fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        total += await db[service].fetchval("SELECT count(*) FROM outbox")
        if unsent:
            found.append(f"{service}: {unsent} outbox rows not yet published")
    return total, found


async def wallets_match_their_ledger(db) -> tuple[int, list[str]]:
    rows = await db["gifting"].fetch(
        "SELECT w.user_id, w.balance, coalesce(sum(l.delta), 0) AS ledger,"
        " coalesce(sum(l.delta) FILTER (WHERE kind = 'purchase'), 0) AS purchased,"
        " coalesce(-sum(l.delta) FILTER (WHERE kind = 'clawback'), 0) AS clawed_back,"
        " coalesce(-sum(l.delta) FILTER (WHERE kind = 'gift'), 0) AS gifted,"
        " coalesce(-sum(l.delta) FILTER (WHERE kind = 'unlock'), 0) AS unlocked"
        " FROM wallets w LEFT JOIN wallet_ledger l USING (user_id) GROUP BY w.user_id")
    found = [f"wallet {r['user_id']}: balance {r['balance']} != purchased {r['purchased']}"
             f" - clawed back {r['clawed_back']} - gifted {r['gifted']} - unlocked"
             f" {r['unlocked']}" for r in rows
             if r["balance"] != r["ledger"] or r["balance"] != r["purchased"] -
             r["clawed_back"] - r["gifted"] - r["unlocked"]]
    return len(rows), found


async def purchases_credited_once(db) -> tuple[int, list[str]]:
    sold = {r["user_id"]: r["coins"] for r in await db["recharge"].fetch(
        "SELECT envelope->'data'->>'user_id' AS user_id,"
        " sum((envelope->'data'->>'coins')::bigint) AS coins FROM events"
        " WHERE event_type = 'CoinPurchased' GROUP BY 1")}
    credited = {r["user_id"]: r["coins"] for r in await db["gifting"].fetch(
        "SELECT user_id, sum(delta) AS coins FROM wallet_ledger WHERE kind = 'purchase'"
        " GROUP BY 1")}
    found = [f"wallet {u}: recharge sold {sold.get(u, 0)} coins, gifting credited"
             f" {credited.get(u, 0)}" for u in sold.keys() | credited.keys()
             if sold.get(u, 0) != credited.get(u, 0)]
    return len(sold), found


async def diamonds_match_gifts(db) -> tuple[int, list[str]]:
    owed: dict[str, int] = {}
    for r in await db["gifting"].fetch(
            "SELECT event_type, envelope->'data' AS d FROM events"
            " WHERE event_type IN ('GiftSent', 'ContentUnlocked')"):
        d = r["d"]
        creator = d.get("creator_id") or d.get("owner_id")
        if creator == "platform":
            continue
        owed[creator] = owed.get(creator, 0) + diamonds_for(d["coins"],
                                                            Decimal(d["diamonds_per_coin"]))
    earned = {r["creator_id"]: r["earned"] for r in await db["payout"].fetch(
        "SELECT creator_id, earned FROM creators")}
    found = [f"creator {c}: gifts earn {owed.get(c, 0)} diamonds, payout credited"
             f" {earned.get(c, 0)}" for c in owed.keys() | earned.keys()
             if owed.get(c, 0) != earned.get(c, 0)]
    rows = await db["payout"].fetch(
        "SELECT creator_id, earned, held, pending, paid FROM creators"
        " WHERE earned - held - pending - paid < 0 OR least(held, pending, paid) < 0")
    found += [f"creator {r['creator_id']}: figures out of range {dict(r)}" for r in rows]
    return len(owed), found


async def read_models_match_the_services(db) -> tuple[int, list[str]]:
    """Each wallet's four movements and balance (gifting's ledger) and each creator's earned /
    held / pending / paid (payout) equal the projections' figures."""
    zero = (0, 0, 0, 0, 0)
    live = {r[0]: tuple(r[1:]) for r in await db["gifting"].fetch(
        "SELECT w.user_id,"
        " coalesce(sum(l.delta) FILTER (WHERE kind = 'purchase'), 0),"
        " coalesce(-sum(l.delta) FILTER (WHERE kind = 'clawback'), 0),"
        " coalesce(-sum(l.delta) FILTER (WHERE kind = 'gift'), 0),"
        " coalesce(-sum(l.delta) FILTER (WHERE kind = 'unlock'), 0), w.balance"
        " FROM wallets w LEFT JOIN wallet_ledger l USING (user_id) GROUP BY w.user_id")}
    projected = {r[0]: tuple(r[1:]) for r in await db["projections"].fetch(
        "SELECT user_id, purchased, clawed_back, gifted, unlocked, balance"
        " FROM wallet_balances")}
    found = [f"wallet {u}: gifting says (purchased, clawed back, gifted, unlocked, balance) ="
             f" {live.get(u)}, wallet_balances says {projected.get(u)}"
             for u in live.keys() | projected.keys() if live.get(u, zero) != projected.get(u, zero)]
    zero = (0, 0, 0, 0)
    payout = {r[0]: tuple(r[1:]) for r in await db["payout"].fetch(
        "SELECT creator_id, earned, held, pending, paid FROM creators")}
    seen = {r[0]: tuple(r[1:]) for r in await db["projections"].fetch(
        "SELECT creator_id, diamonds_earned, diamonds_held, diamonds_pending, diamonds_paid"
        " FROM creator_earnings")}
    found += [f"creator {c}: payout says (earned, held, pending, paid) = {payout.get(c)},"
              f" creator_earnings says {seen.get(c)}" for c in payout.keys() | seen.keys()
              if payout.get(c, zero) != seen.get(c, zero)]
    return len(live) + len(payout), found


async def every_event_projected_once(db) -> tuple[int, list[str]]:
    """projected_events is keyed by event id, so 'at most once' holds by construction; here:
    every published event of a projected topic is there."""
    projected = {r["event_id"] for r in await db["projections"].fetch(
        "SELECT event_id FROM projected_events")}
    found, total = [], 0
    for service in ("recharge", "gifting", "payout"):
        ids = {r["event_id"] for r in await db[service].fetch(
            "SELECT event_id FROM outbox WHERE sent_at IS NOT NULL")}
        total += len(ids)
        missing = ids - projected
        if missing:
            found.append(f"{service}: {len(missing)} published events missing from the read"
                         f" models, e.g. {sorted(map(str, missing))[:3]}")
    return total, found


async def topic_event_ids(settings: Settings, topic: str) -> set[str]:
    """Every event id on `topic` up to its current end (undecodable messages are not ours to
    count: the consumers dead-letter them)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        name = settings.topic(topic)
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(name, p)
                      for p in sorted(consumer.partitions_for_topic(name) or ())]
        if not partitions:
            return set()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        ids: set[str] = set()
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    try:
                        ids.add(str(orjson.loads(record.value)["id"]))
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        pass
        return ids
    finally:
        await consumer.stop()


async def published_events_on_kafka(settings: Settings, db) -> tuple[int, list[str]]:
    """Every outbox row marked sent is really on its topic (the relay never marks a loss)."""
    found, total = [], 0
    for service in ("recharge", "gifting", "payout"):
        sent: dict[str, set[str]] = {}
        for r in await db[service].fetch(
                "SELECT topic, event_id FROM outbox WHERE sent_at IS NOT NULL"):
            sent.setdefault(r["topic"], set()).add(str(r["event_id"]))
        for topic, ids in sent.items():
            total += len(ids)
            missing = ids - await topic_event_ids(settings, topic)
            if missing:
                found.append(f"{service}: {len(missing)} events marked sent are not on {topic},"
                             f" e.g. {sorted(missing)[:3]}")
    return total, found


CHECKS: dict[str, Check] = {
    "outboxes fully drained": outboxes_drained,
    "wallet: purchased - clawed back - gifted - unlocked = balance": wallets_match_their_ledger,
    "every CoinPurchased credited exactly once": purchases_credited_once,
    "diamonds credited = sum of gifts x recorded rate; figures in range": diamonds_match_gifts,
    "read models agree with gifting and payout": read_models_match_the_services,
    "every published event projected": every_event_projected_once,
}


async def reconcile(settings: Settings) -> Report:
    db = {s: await asyncpg.connect(settings.database_for(s)) for s in SERVICES}
    for conn in db.values():
        await init_connection(conn)
    try:
        report = Report()
        for name, check in CHECKS.items():
            examined, found = await check(db)
            report.checks.append((name, examined, found))
        examined, found = await published_events_on_kafka(settings, db)
        report.checks.append(("every event marked sent is on Kafka", examined, found))
        return report
    finally:
        for conn in db.values():
            await conn.close()


def main() -> None:
    report = asyncio.run(reconcile(Settings()))
    print(report.render())
    sys.exit(1 if report.discrepancies else 0)


if __name__ == "__main__":
    main()
