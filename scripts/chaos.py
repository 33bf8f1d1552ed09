"""Fault injection: the whole system under a seeded mixed load while random components are
SIGKILLed and restarted; then it settles and every acknowledged command is checked against the
ledgers, and every invariant against scripts.reconcile.

    python -m scripts.chaos --seeds 1,2,3 [--duration 20] [--clients 8]

Same seed, same plan: the load mix, the victims and the moments are drawn from the seed (how
far a load gets in wall-clock time still varies).
"""

import argparse
import asyncio
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
import httpx

from eventkit.auth import mint_token
from eventkit.db import create_pool
from eventkit.roles import AUDITOR  # reads only: the read-only auditor login
from eventkit.settings import Settings
from eventkit.webhooks import http_deliver
from infra import kafka, postgres
from infra.namespace import drop_namespace, prepare_namespace
from infra.system import System
from scripts import chaos_lots, chaos_partners
from scripts.reconcile import reconcile
from services.gifting.catalog import load_catalog
from services.payout.conversion import load_config
from services.recharge.sandbox import SandboxProvider
from services.recharge.settings import RechargeSettings

INFRA = ("kafka", "postgres")
BANK = {"kind": "bank", "account_holder": "Chaos Creator", "iban": "DE89370400440532013000"}
# The gift catalog and item price the system under test runs with, as a fan shown them by
# GET /v1/gifts/catalog and GET /v1/items/{id} would name them; neither moves during a run.
CATALOG_VERSION = load_catalog().version
ITEM_COINS = 300
# The rates the system under test runs with (the same config.json), as a creator shown them
# by GET /v1/payouts/quote would name them; the rates do not move during a run.
RATES_VERSION = load_config().rates.version


class Target(Protocol):
    """What the load drives: a System (one instance of each role) or a cluster's balancer,
    named by the settings its clients mint tokens and open databases with."""

    settings: Settings

    def url(self, service: str) -> str: ...


@dataclass
class Outcome:
    seed: int
    faults: list[str] = field(default_factory=list)
    acknowledged: dict[str, list[dict]] = field(default_factory=dict)
    refused: int = 0
    refusals: Counter = field(default_factory=Counter)  # "kind status problem" -> count
    discrepancies: list[str] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)  # time.monotonic() of each answer
    retry_times: list[float] = field(default_factory=list)  # of each retry (5xx, no answer)

    def ack(self, kind: str, body: dict) -> None:
        self.acknowledged.setdefault(kind, []).append(body)
        self.ack_times.append(time.monotonic())

    def stall(self, since: float, until: float) -> float:
        """The longest gap between acknowledgements (or the window's ends) in [since, until]:
        how long clients waited for any answer around a fault."""
        moments = [since, *(t for t in self.ack_times if since < t < until), until]
        return max(b - a for a, b in zip(moments, moments[1:], strict=False))

    @property
    def acked(self) -> int:
        return sum(map(len, self.acknowledged.values()))


class Client:
    """An at-least-once client: retries a command with the same Idempotency-Key until it gets
    an answer, as a real app would after a timeout or a 503."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, outcome: Outcome):
        self.http, self.settings, self.outcome = http, settings, outcome

    async def command(self, kind: str, url: str, user: str, body: dict, roles=None) -> None:
        headers = {
            "Authorization": f"Bearer {mint_token(self.settings, user, roles=roles)}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        for _ in range(120):
            try:
                r = await self.http.post(url, json=body, headers=headers)
            except httpx.HTTPError:
                self.outcome.retry_times.append(time.monotonic())
                await asyncio.sleep(0.5)
                continue
            if r.status_code >= 500:
                self.outcome.retry_times.append(time.monotonic())
                await asyncio.sleep(0.5)
                continue
            if r.status_code < 300:
                self.outcome.ack(kind, {"user": user, **r.json()})
            else:
                self.outcome.refused += 1
                problem = (
                    r.json().get("type", "")
                    if r.headers.get("content-type", "").endswith("json")
                    else ""
                )
                self.outcome.refusals[f"{kind} {r.status_code} {problem.rsplit('/', 1)[-1]}"] += 1
            return

    async def put(self, url: str, user: str, body: dict, roles=None) -> int:
        """A setup PUT, retried with the same key until the service answers (it may be down);
        returns the status."""
        headers = {
            "Authorization": f"Bearer {mint_token(self.settings, user, roles=roles)}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        for _ in range(120):
            try:
                r = await self.http.put(url, json=body, headers=headers)
                if r.status_code < 500:
                    return r.status_code
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        return 503

    async def get(self, url: str, user: str, roles=None) -> None:
        headers = {"Authorization": f"Bearer {mint_token(self.settings, user, roles=roles)}"}
        for _ in range(120):
            try:
                if (await self.http.get(url, headers=headers)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)


async def load(
    system: Target, rng: random.Random, outcome: Outcome, duration: float, clients: int
) -> None:
    fans = [f"fan-{outcome.seed}-{i}" for i in range(clients * 2)]
    creators = [f"creator-{outcome.seed}-{i}" for i in range(3)]
    gifting, recharge = system.url("gifting"), system.url("recharge")
    items: list[str] = []
    async with (
        httpx.AsyncClient(timeout=10) as http,
        Chargebacks(system, http, outcome) as chargebacks,
    ):
        c = Client(http, system.settings, outcome)
        for creator in creators:  # known to gifting, and able to withdraw
            await c.get(f"{gifting}/v1/wallet", creator, ["creator"])
            await c.put(f"{system.url('payout')}/v1/payout-method", creator, BANK, ["creator"])
        for n in range(3):
            item = f"item-{outcome.seed}-{n}"
            if (
                await c.put(
                    f"{gifting}/v1/items",
                    creators[0],
                    {"item_id": item, "title": "chaos", "coins": ITEM_COINS},
                    ["creator"],
                )
                < 300
            ):
                items.append(item)
        plans = [random.Random(rng.random()) for _ in range(clients)]
        deadline = asyncio.get_running_loop().time() + duration

        async def client_loop(plan: random.Random) -> None:
            while asyncio.get_running_loop().time() < deadline:
                fan, pick = plan.choice(fans), plan.random()
                if pick < 0.17:
                    await c.command(
                        "purchase",
                        f"{recharge}/v1/purchases",
                        fan,
                        {"bundle_id": "coins_3500", "channel": "web"},
                    )
                elif pick < 0.2:
                    await c.command(
                        "declined purchase",
                        f"{recharge}/v1/purchases",
                        fan,
                        {
                            "bundle_id": "coins_70",
                            "channel": "web",
                            "payment_method": "sandbox_decline",
                        },
                    )
                elif pick < 0.78:
                    await c.command(
                        "gift",
                        f"{gifting}/v1/gifts",
                        fan,
                        {
                            "creator_id": plan.choice(creators),
                            "gift_code": plan.choice(["rose", "finger_heart", "galaxy"]),
                            "quantity": plan.randint(1, 3),
                            "context": {"kind": "live", "id": f"stream-{plan.randint(1, 3)}"},
                            "catalog_version": CATALOG_VERSION,
                        },
                    )
                elif pick < 0.8:
                    await chargebacks.one(plan)
                elif pick < 0.9 and items:
                    await c.command(
                        "unlock",
                        f"{gifting}/v1/unlocks",
                        fan,
                        {"item_id": plan.choice(items), "coins": ITEM_COINS},
                    )
                else:
                    await c.command(
                        "payout",
                        f"{system.url('payout')}/v1/payouts",
                        plan.choice(creators),
                        {"diamonds": 2000, "method": "bank", "rates_version": RATES_VERSION},
                        ["creator"],
                    )

        await asyncio.gather(
            *(client_loop(p) for p in plans),
            room_gifts(
                c, gifting, outcome.seed, fans, creators, random.Random(rng.random()), deadline
            ),
            live_event_tickets(c, gifting, fans, creators, random.Random(rng.random()), deadline),
            subscriptions(c, gifting, fans, creators, random.Random(rng.random()), deadline),
            spending_limits(c, gifting, fans, random.Random(rng.random()), deadline),
            coupons(c, recharge, outcome.seed, fans, random.Random(rng.random()), deadline),
            chaos_lots.expire_ahead(system.settings, random.Random(rng.random()), deadline),
            chaos_partners.partner_load(
                c, gifting, fans, outcome.seed, random.Random(rng.random()), deadline
            ),
        )


async def coupons(
    c: "Client", recharge: str, seed: int, fans: list[str], plan: random.Random, deadline: float
) -> None:
    """Coupon redemptions beside the load (docs/bonus-lots.md): one campaign whose shared
    code the fans redeem past its caps (per-user and campaign-wide refusals), each grant a
    bonus lot the fans' gifts spend first while chaos_lots.expire_ahead expires lots under
    them; checked by the lots reconcile (each grant one lot, lots add up)."""
    now = datetime.now(UTC)
    code = f"CHAOS{seed}{uuid.uuid4().hex[:6]}".upper()
    await c.command(
        "campaign",
        f"{recharge}/v1/admin/campaigns",
        "chaos-ops",
        {
            "name": "chaos coupons",
            "kind": "coupon",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "max_redemptions": 2 * len(fans),
            "per_user_limit": 3,
            "bonus_coins": 300,
            "bonus_expires_after_days": 30,
            "shared_code": code,
        },
        ["admin"],
    )
    if not c.outcome.acknowledged.get("campaign"):
        return
    while asyncio.get_running_loop().time() < deadline:
        await c.command(
            "coupon", f"{recharge}/v1/coupons/redeem", plan.choice(fans), {"code": code}
        )
        await asyncio.sleep(plan.uniform(0.2, 0.8))


async def spending_limits(
    c: "Client", gifting: str, fans: list[str], plan: random.Random, deadline: float
) -> None:
    """Two fans change their daily limit now and then beside the load (docs/spending-
    controls.md): lower at once, higher after 24 hours, so their gifts and unlocks meet the
    limit; checked by the spending reconcile (controls = their last event, each spend counted
    once per window). PUT with one Idempotency-Key until answered, as Client.command."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        fan, daily = plan.choice(fans[:2]), plan.choice([500, 1000, 2000, 5000])
        headers = {
            "Authorization": f"Bearer {mint_token(c.settings, fan)}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        for _ in range(120):
            try:
                r = await c.http.put(
                    f"{gifting}/v1/spending-limits", json={"daily": daily}, headers=headers
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if r.status_code < 500:
                if r.status_code == 200:
                    c.outcome.ack("spending limit", {"user": fan, **r.json()})
                else:
                    c.outcome.discrepancies.append(f"spending limit refused: {r.status_code}")
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(plan.uniform(0.5, 2.0))


async def room_gifts(
    c: "Client",
    gifting: str,
    seed: int,
    fans: list[str],
    creators: list[str],
    plan: random.Random,
    deadline: float,
) -> None:
    """Gifts to a multi-guest room (docs/multi-guest.md) beside the load: one room, its host
    and two guests the load's creators, each gift split three ways (checked by the splits
    reconcile and, acknowledged, by the ledger like any gift)."""
    room = f"room-{seed}"
    shares = {
        "host_share_bp": 5000,
        "guests": [
            {"creator_id": g, "share_bp": bp}
            for g, bp in zip(creators[1:3], (3333, 1667), strict=True)
        ],
    }
    if await c.put(f"{gifting}/v1/rooms/{room}", creators[0], shares, ["creator"]) >= 300:
        return
    while asyncio.get_running_loop().time() < deadline:
        await c.command(
            "gift",
            f"{gifting}/v1/gifts",
            plan.choice(fans),
            {
                "room_id": room,
                "gift_code": plan.choice(["rose", "finger_heart"]),
                "quantity": plan.randint(1, 7),
                "context": {"kind": "live", "id": room},
                "catalog_version": CATALOG_VERSION,
            },
        )
        await asyncio.sleep(plan.uniform(0.05, 0.3))


async def live_event_tickets(
    c: "Client",
    gifting: str,
    fans: list[str],
    creators: list[str],
    plan: random.Random,
    deadline: float,
) -> None:
    """Ticket buys beside the load (docs/live-events.md): two small live events sold out by
    the fans, one cancelled half-way (each ticket refunded), the other started at the end (its
    tickets settled to the creator); checked by the tickets reconcile."""
    loop = asyncio.get_running_loop()
    for _ in range(2):
        starts_at = datetime.now(UTC) + timedelta(minutes=10)
        await c.command(
            "live event",
            f"{gifting}/v1/live-events",
            creators[1],
            {"title": "chaos", "coins": 50, "capacity": 15, "starts_at": starts_at.isoformat()},
            ["creator"],
        )
    events = [a["live_event_id"] for a in c.outcome.acknowledged.get("live event", [])]
    if not events:
        return
    half, closed = loop.time() + (deadline - loop.time()) / 2, False
    while loop.time() < deadline:
        if not closed and loop.time() > half:
            await c.command(
                "cancel",
                f"{gifting}/v1/live-events/{events[0]}/cancel",
                creators[1],
                {},
                ["creator"],
            )
            closed = True
        await c.command(
            "ticket",
            f"{gifting}/v1/live-events/{plan.choice(events)}/tickets",
            plan.choice(fans),
            {"coins": 50},
        )
        await asyncio.sleep(plan.uniform(0.05, 0.3))
    await c.command(
        "start", f"{gifting}/v1/live-events/{events[-1]}/start", creators[1], {}, ["creator"]
    )


async def subscriptions(
    c: "Client",
    gifting: str,
    fans: list[str],
    creators: list[str],
    plan: random.Random,
    deadline: float,
) -> None:
    """Subscribe, gift and cancel beside the load (docs/subscriptions.md): a creator prices a
    month, fans subscribe (again: the same subscription), gift months to two others (all or
    nothing) and cancel; checked by the subscriptions reconcile, and each acknowledged
    subscription must exist with its first period paid."""
    creator, price = creators[2], 150
    url = f"{gifting}/v1/creators/{creator}/subscription-price"
    if await c.put(url, creator, {"coins": price}, ["creator"]) >= 300:
        return
    for fan in fans:  # known to gifting, so they can be given a month
        await c.get(f"{gifting}/v1/wallet", fan)
    while asyncio.get_running_loop().time() < deadline:
        pick = plan.random()
        if pick < 0.6:
            body = {"creator_id": creator, "coins": price}
            await c.command("subscribe", f"{gifting}/v1/subscriptions", plan.choice(fans), body)
        elif pick < 0.8:
            payer, *viewers = plan.sample(fans, 3)
            body = {"creator_id": creator, "coins": price, "recipients": viewers}
            await c.command("subscription gift", f"{gifting}/v1/subscription-gifts", payer, body)
        else:
            acked = c.outcome.acknowledged.get("subscribe", [])
            if acked:
                sub = plan.choice(acked)
                token = mint_token(c.settings, sub["fan_id"])
                for _ in range(120):  # the API may be down: cancelling again changes nothing
                    try:
                        r = await c.http.delete(
                            f"{gifting}/v1/subscriptions/{sub['subscription_id']}",
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        if r.status_code < 500:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.5)
        await asyncio.sleep(plan.uniform(0.1, 0.4))
    acked = [a["subscription_id"] for a in c.outcome.acknowledged.get("subscribe", [])]
    acked += [
        s["subscription_id"]
        for a in c.outcome.acknowledged.get("subscription gift", [])
        for s in a["subscriptions"]
    ]
    for _ in range(120):  # PostgreSQL may be down
        try:
            db = await asyncpg.connect(c.settings.database_for("gifting", AUDITOR))
            try:
                rows = await db.fetch(
                    "SELECT subscription_id FROM subscription_periods WHERE period = 1"
                    " AND subscription_id = ANY($1::uuid[])",
                    acked,
                )
            finally:
                await db.close()
            break
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await asyncio.sleep(0.5)
    else:
        c.outcome.discrepancies.append("subscriptions: gifting's database never answered")
        return
    paid = {str(r["subscription_id"]) for r in rows}
    c.outcome.discrepancies += [
        f"acknowledged subscription {s} not paid" for s in set(acked) - paid
    ]


class Chargebacks:
    """Plays the payment provider reversing acknowledged purchases (chargebacks and
    cancellations) through the sandbox: its signed webhook is queued in the recharge database
    and redelivered by recharge-worker until answered, faults or not."""

    def __init__(self, system: Target, http: httpx.AsyncClient, outcome: Outcome):
        self.system, self.http, self.outcome = system, http, outcome
        # Never the same purchase twice, across loads sharing one outcome too.
        self.done = {a["purchase_id"] for a in outcome.acknowledged.get("chargeback", [])}

    async def __aenter__(self) -> "Chargebacks":
        self.pool = await create_pool(
            self.system.settings.database_for("recharge"), min_size=0, max_size=2
        )
        local = RechargeSettings()
        self.sandbox = SandboxProvider(
            self.pool,
            local.webhook_secret,
            http_deliver(self.http, f"{self.system.url('recharge')}/v1/webhooks/sandbox"),
            retry_seconds=local.sandbox_retry_seconds,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.sandbox.drain()
        await self.pool.close()

    async def one(self, plan: random.Random) -> None:
        bought = [
            a
            for a in self.outcome.acknowledged.get("purchase", [])
            if a["purchase_id"] not in self.done
        ]
        if not bought:
            return
        purchase = plan.choice(bought)
        self.done.add(purchase["purchase_id"])
        for _ in range(120):  # PostgreSQL may be down
            try:
                await self.sandbox.reverse(
                    purchase["provider_txn_id"], plan.choice(["chargeback", "cancellation"])
                )
                self.outcome.ack("chargeback", purchase)
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(0.5)


async def inject(
    system: System, rng: random.Random, outcome: Outcome, duration: float, infra_too: bool
) -> None:
    victims = list(system.roles) + (list(INFRA) if infra_too else [])
    elapsed = 0.0
    while True:
        pause = rng.uniform(1.0, 4.0)
        elapsed += pause
        if elapsed > duration - 1:
            return
        await asyncio.sleep(pause)
        victim = rng.choice(victims)
        down = rng.uniform(0.2, 2.0)
        outcome.faults.append(victim)
        if victim == "kafka":
            kafka.crash()
            await asyncio.sleep(down)
            await asyncio.to_thread(kafka.start)
        elif victim == "postgres":
            postgres.crash()
            await asyncio.sleep(down)
            await asyncio.to_thread(postgres.start)
        else:
            system.kill(victim)
            await asyncio.sleep(down)
            system.start(victim)


async def unsettled_purchases(settings: Settings, outcome: Outcome) -> list[str]:
    """The sandbox answers every chaos purchase (its webhook is redelivered until answered):
    each acknowledged one must end confirmed, reversed if charged back, failed if declined;
    the coins are then checked by reconcile."""
    reversed_ = {a["purchase_id"] for a in outcome.acknowledged.get("chargeback", [])}
    want = {
        uuid.UUID(a["purchase_id"]): "reversed" if a["purchase_id"] in reversed_ else "confirmed"
        for a in outcome.acknowledged.get("purchase", [])
    }
    want.update(
        {
            uuid.UUID(a["purchase_id"]): "failed"
            for a in outcome.acknowledged.get("declined purchase", [])
        }
    )
    recharge = await asyncpg.connect(settings.database_for("recharge", AUDITOR))
    try:
        status = dict(
            await recharge.fetch(
                "SELECT purchase_id, status FROM purchases WHERE purchase_id = ANY($1::uuid[])",
                list(want),
            )
        )
    finally:
        await recharge.close()
    return [
        f"acknowledged purchase {p} is {status.get(p, 'missing')}, not {w}"
        for p, w in want.items()
        if status.get(p) != w
    ]


async def unsettled_payouts(settings: Settings, outcome: Outcome) -> list[str]:
    """The sandbox settles every chaos payout (success, below the review threshold) and keeps
    its callbacks until the API answers, whichever worker dies: each acknowledged payout must
    end completed."""
    acked = [uuid.UUID(a["payout_id"]) for a in outcome.acknowledged.get("payout", [])]
    payout = await asyncpg.connect(settings.database_for("payout", AUDITOR))
    try:
        status = dict(
            await payout.fetch(
                "SELECT payout_id, status FROM payouts WHERE payout_id = ANY($1::uuid[])", acked
            )
        )
    finally:
        await payout.close()
    return [
        f"acknowledged payout {p} is {status.get(p, 'missing')}, not completed"
        for p in acked
        if status.get(p) != "completed"
    ]


async def verify(settings: Settings, outcome: Outcome, settle_seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + settle_seconds
    while True:  # settled: invariants hold and the providers have answered everything
        report = await reconcile(settings)
        unsettled = await unsettled_purchases(settings, outcome) + await unsettled_payouts(
            settings, outcome
        )
        if not (report.discrepancies or unsettled) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(1)
    outcome.discrepancies += report.discrepancies + unsettled
    await chaos_partners.verify_acknowledged(settings, outcome)
    gifting = await asyncpg.connect(settings.database_for("gifting", AUDITOR))
    try:
        for kind in ("gift", "unlock"):
            for ack in outcome.acknowledged.get(kind, []):
                event = ack.get("event_id")
                if event is None:  # an unlock answered "already unlocked": charged earlier
                    continue
                n = await gifting.fetchval(
                    "SELECT count(*) FROM wallet_ledger WHERE event_id = $1", uuid.UUID(event)
                )
                if n != 1:
                    outcome.discrepancies.append(f"acknowledged {kind} {event} in ledger {n}x")
    finally:
        await gifting.close()


async def run_seed(
    base: Settings, seed: int, duration: float, clients: int, infra_too: bool
) -> Outcome:
    rng = random.Random(seed)
    prefix = f"chaos{seed}_{uuid.uuid4().hex[:6]}"
    settings = base.model_copy(update={"db_prefix": prefix, "topic_prefix": f"{prefix}."})
    await prepare_namespace(settings)
    system = System(settings)
    outcome = Outcome(seed)
    try:
        await asyncio.to_thread(system.start_all)
        await asyncio.gather(
            load(system, rng, outcome, duration, clients),
            inject(system, rng, outcome, duration, infra_too),
        )
        await asyncio.to_thread(system.wait_ready)
        await verify(settings, outcome, settle_seconds=180)
    finally:
        system.stop_all()
        await drop_namespace(settings)
    return outcome


def table(outcomes: list[Outcome]) -> str:
    rows = [
        "| seed | faults injected | commands acknowledged | refused | discrepancies |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        rows.append(
            f"| {o.seed} | {', '.join(o.faults) or '-'} | {o.acked} | {o.refused} |"
            f" {len(o.discrepancies)} |"
        )
    return "\n".join(rows)


async def main_async(args, native: bool) -> list[Outcome]:
    base = Settings()
    outcomes = []
    for seed in args.seeds:
        outcome = await run_seed(
            base, seed, args.duration, args.clients, native and not args.no_infra
        )
        print(
            f"seed {seed}: {len(outcome.faults)} faults ({', '.join(outcome.faults)}),"
            f" {outcome.acked} acknowledged ("
            + ", ".join(f"{k} {len(v)}" for k, v in sorted(outcome.acknowledged.items()))
            + f"), {outcome.refused} refused,"
            f" {len(outcome.discrepancies)} discrepancies",
            flush=True,
        )
        print("   refused: " + ", ".join(f"{k} x{n}" for k, n in outcome.refusals.most_common(6)))
        for d in outcome.discrepancies[:10]:
            print(f"   - {d}")
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--no-infra",
        action="store_true",
        help="kill only the services, never the Kafka broker or PostgreSQL",
    )
    args = parser.parse_args()
    # The sandbox redelivers an unanswered webhook with exponential backoff from this base; a
    # short one lets a seed settle in seconds after an outage instead of minutes.
    os.environ.setdefault("RECHARGE_SANDBOX_RETRY_SECONDS", "0.5")
    native = not (os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("DATABASE_URL"))
    if native:  # before the event loop: the launchers run their own
        postgres.start()
        kafka.start()
    outcomes = asyncio.run(main_async(args, native))
    print(table(outcomes))
    raise SystemExit(1 if any(o.discrepancies for o in outcomes) else 0)


if __name__ == "__main__":
    main()
