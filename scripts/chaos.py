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
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx

from eventkit.auth import mint_token
from eventkit.settings import Settings
from infra import kafka, postgres
from infra.namespace import drop_namespace, prepare_namespace
from infra.system import System
from scripts.reconcile import reconcile

INFRA = ("kafka", "postgres")


@dataclass
class Outcome:
    seed: int
    faults: list[str] = field(default_factory=list)
    acknowledged: dict[str, list[dict]] = field(default_factory=dict)
    refused: int = 0
    discrepancies: list[str] = field(default_factory=list)

    def ack(self, kind: str, body: dict) -> None:
        self.acknowledged.setdefault(kind, []).append(body)

    @property
    def acked(self) -> int:
        return sum(map(len, self.acknowledged.values()))


class Client:
    """An at-least-once client: retries a command with the same Idempotency-Key until it gets
    an answer, as a real app would after a timeout or a 503."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, outcome: Outcome):
        self.http, self.settings, self.outcome = http, settings, outcome

    async def command(self, kind: str, url: str, user: str, body: dict, roles=None) -> None:
        headers = {"Authorization": f"Bearer {mint_token(self.settings, user, roles=roles)}",
                   "Idempotency-Key": str(uuid.uuid4())}
        for _ in range(120):
            try:
                r = await self.http.post(url, json=body, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if r.status_code >= 500:
                await asyncio.sleep(0.5)
                continue
            if r.status_code < 300:
                self.outcome.ack(kind, {"user": user, **r.json()})
            else:
                self.outcome.refused += 1
            return

    async def get(self, url: str, user: str, roles=None) -> None:
        headers = {"Authorization": f"Bearer {mint_token(self.settings, user, roles=roles)}"}
        for _ in range(120):
            try:
                if (await self.http.get(url, headers=headers)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)


async def load(system: System, rng: random.Random, outcome: Outcome, duration: float,
               clients: int) -> None:
    fans = [f"fan-{outcome.seed}-{i}" for i in range(clients * 2)]
    creators = [f"creator-{outcome.seed}-{i}" for i in range(3)]
    items: list[str] = []
    async with httpx.AsyncClient(timeout=10) as http:
        c = Client(http, system.settings, outcome)
        for creator in creators:
            await c.get(f"{system.url('gifting')}/v1/wallet", creator, ["creator"])
        for n in range(3):
            item = f"item-{outcome.seed}-{n}"
            r = await http.put(f"{system.url('gifting')}/v1/items", json={
                "item_id": item, "title": "chaos", "coins": 300}, headers={
                "Authorization": f"Bearer {mint_token(system.settings, creators[0], ['creator'])}"})
            if r.status_code < 300:
                items.append(item)
        plans = [random.Random(rng.random()) for _ in range(clients)]
        deadline = asyncio.get_running_loop().time() + duration

        async def client_loop(plan: random.Random) -> None:
            while asyncio.get_running_loop().time() < deadline:
                fan, pick = plan.choice(fans), plan.random()
                if pick < 0.2:
                    await c.command("purchase", f"{system.url('recharge')}/v1/purchases", fan,
                                    {"bundle_id": "coins_3500", "channel": "web"})
                elif pick < 0.8:
                    await c.command("gift", f"{system.url('gifting')}/v1/gifts", fan, {
                        "creator_id": plan.choice(creators), "gift_code": plan.choice(
                            ["rose", "finger_heart", "galaxy"]), "quantity": plan.randint(1, 3),
                        "context": {"kind": "live", "id": f"stream-{plan.randint(1, 3)}"}})
                elif pick < 0.9 and items:
                    await c.command("unlock", f"{system.url('gifting')}/v1/unlocks", fan,
                                    {"item_id": plan.choice(items)})
                else:
                    await c.command("payout", f"{system.url('payout')}/v1/payouts",
                                    plan.choice(creators), {"diamonds": 2000, "method": "bank"},
                                    ["creator"])

        await asyncio.gather(*(client_loop(p) for p in plans))


async def inject(system: System, rng: random.Random, outcome: Outcome, duration: float,
                 infra_too: bool) -> None:
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


async def unconfirmed_purchases(settings: Settings, outcome: Outcome) -> list[str]:
    """The sandbox confirms every chaos purchase (its webhook is redelivered until answered), so
    each acknowledged one must end confirmed; its coins are then checked by reconcile."""
    acked = [uuid.UUID(a["purchase_id"]) for a in outcome.acknowledged.get("purchase", [])]
    recharge = await asyncpg.connect(settings.database_for("recharge"))
    try:
        status = dict(await recharge.fetch(
            "SELECT purchase_id, status FROM purchases WHERE purchase_id = ANY($1::uuid[])",
            acked))
    finally:
        await recharge.close()
    return [f"acknowledged purchase {p} is {status.get(p, 'missing')}" for p in acked
            if status.get(p) != "confirmed"]


async def verify(settings: Settings, outcome: Outcome, settle_seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + settle_seconds
    while True:  # settled: invariants hold and the provider has confirmed every purchase
        report = await reconcile(settings)
        unsettled = await unconfirmed_purchases(settings, outcome)
        if not (report.discrepancies or unsettled) or \
                asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(1)
    outcome.discrepancies += report.discrepancies + unsettled
    gifting = await asyncpg.connect(settings.database_for("gifting"))
    try:
        for kind in ("gift", "unlock"):
            for ack in outcome.acknowledged.get(kind, []):
                event = ack.get("event_id")
                if event is None:  # an unlock answered "already unlocked": charged earlier
                    continue
                n = await gifting.fetchval(
                    "SELECT count(*) FROM wallet_ledger WHERE event_id = $1", uuid.UUID(event))
                if n != 1:
                    outcome.discrepancies.append(f"acknowledged {kind} {event} in ledger {n}x")
    finally:
        await gifting.close()
    payout = await asyncpg.connect(settings.database_for("payout"))
    try:
        for ack in outcome.acknowledged.get("payout", []):
            n = await payout.fetchval("SELECT count(*) FROM payouts WHERE payout_id = $1",
                                      uuid.UUID(ack["payout_id"]))
            if n != 1:
                outcome.discrepancies.append(f"acknowledged payout {ack['payout_id']} {n}x")
    finally:
        await payout.close()


async def run_seed(base: Settings, seed: int, duration: float, clients: int,
                   infra_too: bool) -> Outcome:
    rng = random.Random(seed)
    prefix = f"chaos{seed}_{uuid.uuid4().hex[:6]}"
    settings = base.model_copy(update={"db_prefix": prefix, "topic_prefix": f"{prefix}."})
    await prepare_namespace(settings)
    system = System(settings)
    outcome = Outcome(seed)
    try:
        await asyncio.to_thread(system.start_all)
        await asyncio.gather(load(system, rng, outcome, duration, clients),
                             inject(system, rng, outcome, duration, infra_too))
        await asyncio.to_thread(system.wait_ready)
        await verify(settings, outcome, settle_seconds=180)
    finally:
        system.stop_all()
        await drop_namespace(settings)
    return outcome


def table(outcomes: list[Outcome]) -> str:
    rows = ["| seed | faults injected | commands acknowledged | refused | discrepancies |",
            "|---|---|---|---|---|"]
    for o in outcomes:
        rows.append(f"| {o.seed} | {', '.join(o.faults) or '-'} | {o.acked} | {o.refused} |"
                    f" {len(o.discrepancies)} |")
    return "\n".join(rows)


async def main_async(args, native: bool) -> list[Outcome]:
    base = Settings()
    outcomes = []
    for seed in args.seeds:
        outcome = await run_seed(base, seed, args.duration, args.clients,
                                 native and not args.no_infra)
        print(f"seed {seed}: {len(outcome.faults)} faults ({', '.join(outcome.faults)}),"
              f" {outcome.acked} acknowledged, {outcome.refused} refused,"
              f" {len(outcome.discrepancies)} discrepancies", flush=True)
        for d in outcome.discrepancies[:10]:
            print(f"   - {d}")
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 2, 3])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--no-infra", action="store_true",
                        help="kill only the services, never the Kafka broker or PostgreSQL")
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
