"""Reconciliation: checks every invariant across the services' stores and the read models,
prints a report and exits 1 naming each discrepancy.  `python -m scripts.reconcile`

Reads each service's own database (a read-only audit; services never do this themselves) and
the Kafka topics the outboxes publish to; writes only its result, a row of the projections
database's reconcile_runs that the ops view shows (scripts/reconcile_record.py).
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
from eventkit.kafka import ADMIN, client_options
from eventkit.roles import AUDITOR
from eventkit.settings import Settings
from schemas.events.gifting import GiftSentV2
from schemas.registry import payload_model
from schemas.upcast import upcast
from scripts import (
    reconcile_lots,
    reconcile_partners,
    reconcile_promotions,
    reconcile_spending,
    reconcile_splits,
    reconcile_subscriptions,
    reconcile_tickets,
)
from scripts.reconcile_compare import disagreements, keyed
from scripts.reconcile_record import record
from services.payout.conversion import diamonds_for
from services.payout.lifecycle import OPEN

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


# Every kind of wallet_ledger entry and the name reconcile gives its movements: a spend or a
# refund added by a feature registers its kind here, and a kind missing here is reported.
LEDGER_KINDS = {
    "purchase": "purchased",
    "clawback": "clawed back",
    "gift": "gifted",
    "unlock": "unlocked",
    "ticket": "bought tickets",
    "ticket_refund": "refunded tickets",
    "subscription": "subscribed",
    "subscription_gift": "gifted subscriptions",
    "bonus": "granted bonus coins",
    "bonus_expiry": "expired bonus coins",
    "partner_debit": "spent with partners",
    "partner_credit": "credited by partners",
}


async def wallet_movements(db) -> dict:
    """Each gifting wallet: its balance and its ledger's total per kind."""
    rows = await db["gifting"].fetch(
        "SELECT w.user_id, w.balance, l.kind, coalesce(sum(l.delta), 0)::bigint AS total"
        " FROM wallets w LEFT JOIN wallet_ledger l USING (user_id)"
        " GROUP BY w.user_id, w.balance, l.kind"
    )
    wallets: dict[str, tuple[int, dict[str, int]]] = {}
    for r in rows:
        _, kinds = wallets.setdefault(r["user_id"], (r["balance"], {}))
        if r["kind"] is not None:
            kinds[r["kind"]] = r["total"]
    return wallets


async def wallets_match_their_ledger(db) -> tuple[int, list[str]]:
    wallets = await wallet_movements(db)
    found = []
    for user, (balance, kinds) in wallets.items():
        unknown = sorted(set(kinds) - LEDGER_KINDS.keys())
        if unknown:
            found.append(f"wallet {user}: ledger entries of unknown kind {unknown}")
        if balance != sum(kinds.values()):
            moves = ", ".join(f"{LEDGER_KINDS.get(k, k)} {v:+}" for k, v in sorted(kinds.items()))
            found.append(f"wallet {user}: balance {balance} != its ledger ({moves or 'empty'})")
    return len(wallets), found


async def applied_once_in_gifting(
    db, event_type: str, kind: str, sign: int
) -> tuple[int, list[str]]:
    """Each recharge event of `event_type` is the one gifting ledger row of `kind` with its id
    (unique there), for its wallet and coins; and no such row lacks its event."""
    events = await keyed(
        db["recharge"],
        "SELECT event_id, envelope->'data'->>'user_id',"
        " (envelope->'data'->>'coins')::bigint FROM events WHERE event_type = $1",
        event_type,
    )
    applied = await keyed(
        db["gifting"],
        "SELECT event_id, user_id, $2::bigint * delta FROM wallet_ledger WHERE kind = $1",
        kind,
        sign,
    )
    return len(events), disagreements(
        event_type, "(wallet, coins)", "recharge", events, f"gifting's {kind} ledger", applied
    )


async def purchases_credited_once(db) -> tuple[int, list[str]]:
    """A lost credit takes coins the buyer paid for; a second one creates coins."""
    return await applied_once_in_gifting(db, "CoinPurchased", "purchase", 1)


async def clawbacks_applied_once(db) -> tuple[int, list[str]]:
    """A lost clawback leaves reversed coins spendable; a second one takes them twice."""
    return await applied_once_in_gifting(db, "CoinsClawedBack", "clawback", -1)


async def diamonds_match_gifts(db) -> tuple[int, list[str]]:
    owed: dict[str, int] = {}
    for r in await db["gifting"].fetch(
        "SELECT event_type, envelope->>'dataversion' AS v, envelope->'data' AS d FROM events"
        " WHERE event_type IN ('GiftSent', 'ContentUnlocked')"
    ):
        d = r["d"]
        if r["event_type"] == "GiftSent":  # every version, split as payout splits it
            model = payload_model("GiftSent", int(r["v"]))
            if model is None:
                continue  # no consumer reads it either
            gift = upcast(model.model_validate(d))
            assert isinstance(gift, GiftSentV2)
            for share in gift.split():
                owed[share.creator_id] = owed.get(share.creator_id, 0) + share.diamonds
            continue
        creator = d["owner_id"]
        if creator == "platform":
            continue
        # its purchased part at diamonds_per_coin, its bonus part (bonus lots) at its own rate
        owed[creator] = (
            owed.get(creator, 0)
            + diamonds_for(d["coins"] - d.get("bonus_coins", 0), Decimal(d["diamonds_per_coin"]))
            + diamonds_for(d.get("bonus_coins", 0), Decimal(d.get("bonus_diamonds_per_coin") or 0))
        )
    for creator, diamonds in (await reconcile_tickets.ticket_diamonds_owed(db)).items():
        owed[creator] = owed.get(creator, 0) + diamonds  # started live events' tickets
    for creator, diamonds in (await reconcile_subscriptions.subscription_diamonds_owed(db)).items():
        owed[creator] = owed.get(creator, 0) + diamonds  # subscription charges' creator shares
    for partner, diamonds in (await reconcile_partners.partner_diamonds_owed(db)).items():
        owed[partner] = owed.get(partner, 0) + diamonds  # partner debits' revenue shares
    earned = {c: e for c, e in await db["payout"].fetch("SELECT creator_id, earned FROM creators")}
    found = disagreements(
        "creator", "diamonds earned", "gifts x rate", owed, "payout", earned, zero=0
    )
    rows = await db["payout"].fetch(
        "SELECT creator_id, earned, held, pending, paid FROM creators"
        " WHERE earned - held - pending - paid < 0 OR least(held, pending, paid) < 0"
    )
    found += [f"creator {r['creator_id']}: figures out of range {dict(r)}" for r in rows]
    return len(owed), found


async def read_models_match_the_services(db) -> tuple[int, list[str]]:
    """Each wallet's four movements and balance (gifting's ledger) and each creator's earned /
    held / pending / paid (payout) equal the projections' figures."""
    live = {
        u: (
            kinds.get("purchase", 0),
            -kinds.get("clawback", 0),
            -kinds.get("gift", 0),
            -kinds.get("unlock", 0),
            balance,
        )
        for u, (balance, kinds) in (await wallet_movements(db)).items()
    }
    projected = await keyed(
        db["projections"],
        "SELECT user_id, purchased, clawed_back, gifted, unlocked, balance FROM wallet_balances",
    )
    payout = await keyed(
        db["payout"], "SELECT creator_id, earned, held, pending, paid FROM creators"
    )
    seen = await keyed(
        db["projections"],
        "SELECT creator_id, diamonds_earned, diamonds_held,"
        " diamonds_pending, diamonds_paid FROM creator_earnings",
    )
    found = disagreements(
        "wallet",
        "(purchased, clawed back, gifted, unlocked, balance)",
        "gifting",
        live,
        "wallet_balances",
        projected,
        zero=(0,) * 5,
    )
    found += disagreements(
        "creator",
        "(earned, held, pending, paid)",
        "payout",
        payout,
        "creator_earnings",
        seen,
        zero=(0,) * 4,
    )
    return len(live) + len(payout), found


async def payout_figures_match_payouts(db) -> tuple[int, list[str]]:
    """creators.pending and paid move beside each payout's status: pending holds the open
    payouts (in review, pending, submitted), paid the completed ones (failed and voided ones
    gave their diamonds back)."""
    figures = await keyed(db["payout"], "SELECT creator_id, pending, paid FROM creators")
    payouts = await keyed(
        db["payout"],
        "SELECT creator_id, coalesce(sum(diamonds)"
        " FILTER (WHERE status = ANY($1::text[])), 0)::bigint,"
        " coalesce(sum(diamonds) FILTER (WHERE status = 'completed'), 0)::bigint"
        " FROM payouts GROUP BY creator_id",
        ["review", *OPEN],
    )
    return len(figures), disagreements(
        "creator", "(pending, paid)", "creators", figures, "payouts", payouts, zero=(0, 0)
    )


async def payouts_read_model_matches(db) -> tuple[int, list[str]]:
    """What a creator reads about each payout is what the payout service did (PayoutFailed
    covers both failed and voided)."""
    live = await keyed(
        db["payout"],
        "SELECT payout_id::text, diamonds, status = 'completed',"
        " status IN ('failed', 'voided') FROM payouts",
    )
    projected = await keyed(
        db["projections"],
        "SELECT payout_id, diamonds, completed_at IS NOT NULL, failed_at IS NOT NULL FROM payouts",
    )
    return len(live), disagreements(
        "payout", "(diamonds, completed, failed)", "payout", live, "payouts read model", projected
    )


async def purchases_read_model_matches(db) -> tuple[int, list[str]]:
    """The funnel and revenue figures count each purchase in the state recharge holds (a
    reversed purchase was confirmed first, and its coins were all clawed back)."""
    live = await keyed(
        db["recharge"],
        "SELECT purchase_id::text,"
        " status IN ('confirmed', 'reversed'), status = 'failed',"
        " status = 'reversed', CASE WHEN status = 'reversed' THEN coins ELSE 0 END,"
        " refund_status FROM purchases",
    )
    projected = await keyed(
        db["projections"],
        "SELECT purchase_id, confirmed_at IS NOT NULL,"
        " declined_at IS NOT NULL, clawed_back_at IS NOT NULL,"
        " clawed_back_coins, CASE WHEN refunded_at IS NOT NULL THEN 'refunded'"
        " WHEN refund_due_at IS NOT NULL THEN 'due' END FROM purchases",
    )
    return len(live), disagreements(
        "purchase",
        "(confirmed, failed, reversed, clawed back, refund)",
        "recharge",
        live,
        "purchases read model",
        projected,
    )


async def every_event_projected_once(db) -> tuple[int, list[str]]:
    """projected_events is keyed by event id, so 'at most once' holds by construction; here:
    every published event of a projected topic is there."""
    projected = {
        r["event_id"]
        for r in await db["projections"].fetch("SELECT event_id FROM projected_events")
    }
    found, total = [], 0
    for service in ("recharge", "gifting", "payout"):
        ids = {
            r["event_id"]
            for r in await db[service].fetch(
                "SELECT event_id FROM outbox WHERE sent_at IS NOT NULL"
            )
        }
        total += len(ids)
        missing = ids - projected
        if missing:
            found.append(
                f"{service}: {len(missing)} published events missing from the read"
                f" models, e.g. {sorted(map(str, missing))[:3]}"
            )
    return total, found


async def topic_event_ids(settings: Settings, topic: str) -> set[str]:
    """Every event id on `topic` up to its current end (undecodable messages are not ours to
    count: the consumers dead-letter them)."""
    consumer = AIOKafkaConsumer(
        **client_options(settings, ADMIN),
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        name = settings.topic(topic)
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or ())
        ]
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
            "SELECT topic, event_id FROM outbox WHERE sent_at IS NOT NULL"
        ):
            sent.setdefault(r["topic"], set()).add(str(r["event_id"]))
        for topic, ids in sent.items():
            total += len(ids)
            missing = ids - await topic_event_ids(settings, topic)
            if missing:
                found.append(
                    f"{service}: {len(missing)} events marked sent are not on {topic},"
                    f" e.g. {sorted(missing)[:3]}"
                )
    return total, found


CHECKS: dict[str, Check] = {
    "outboxes fully drained": outboxes_drained,
    "wallet: balance = the sum of its ledger, every entry of a known kind": wallets_match_their_ledger,
    "every CoinPurchased credited exactly once": purchases_credited_once,
    "every CoinsClawedBack applied exactly once": clawbacks_applied_once,
    "diamonds credited = sum of gifts x recorded rate; figures in range": diamonds_match_gifts,
    "creators' pending and paid = their open and completed payouts": payout_figures_match_payouts,
    "read models agree with gifting and payout": read_models_match_the_services,
    "payouts read model agrees with payout": payouts_read_model_matches,
    "purchases read model agrees with recharge": purchases_read_model_matches,
    "every published event projected": every_event_projected_once,
    **reconcile_tickets.CHECKS,
    **reconcile_splits.CHECKS,
    **reconcile_subscriptions.CHECKS,
    **reconcile_spending.CHECKS,
    **reconcile_lots.CHECKS,
    **reconcile_partners.CHECKS,
    **reconcile_promotions.CHECKS,
}


async def reconcile(settings: Settings) -> Report:
    # Every service's database, read-only: the auditor role may SELECT and nothing else.
    db = {s: await asyncpg.connect(settings.database_for(s, AUDITOR)) for s in SERVICES}
    for conn in db.values():
        await init_connection(conn)
    try:
        report = Report()
        for name, check in CHECKS.items():
            examined, found = await check(db)
            report.checks.append((name, examined, found))
        examined, found = await published_events_on_kafka(settings, db)
        report.checks.append(("every event marked sent is on Kafka", examined, found))
        await record(db["projections"], report)  # the ops view's last reconcile result
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
