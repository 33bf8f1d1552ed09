"""Seeded streams of contract events for the crash test, the rebuild test and the benchmark,
and `expected()`: what every read model must hold for such a stream, computed by plain loops
independently of the projector (the oracle the tests compare the tables with).

The stream looks like production: purchases created then confirmed or declined (some timed-out
ones paid late, then refunded), some clawed back; gifts on live streams (some in combos) and on
videos; items listed and unlocked; diamonds credited per gift/unlock (part held, later
released); payouts requested, then completed or failed. A few events are published twice, as
an outbox relay does after a crash.
"""

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from eventkit.codec import encode, new_envelope
from schemas import topics
from schemas.envelope import Envelope
from schemas.events import gifting, payout, recharge
from schemas.events.base import Payload
from schemas.money import Money
from services.projections.read_models import READ_MODELS

START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # runs across several UTC days
CHANNELS: tuple[recharge.Channel, ...] = ("web", "in_app")


@dataclass(frozen=True)
class Published:
    topic: str
    envelope: Envelope

    @property
    def key(self) -> bytes:
        return self.envelope.aggregateid.encode()

    def value(self) -> bytes:
        return encode(self.envelope)


class Stream:
    def __init__(
        self, seed: int, users: int = 40, creators: int = 8, streams: int = 4, items: int = 6
    ):
        self.rng = random.Random(seed)
        self.time = START
        self.users = [f"fan-{seed}-{i}" for i in range(users)]
        self.creators = [f"creator-{seed}-{i}" for i in range(creators)]
        self.streams = [f"stream-{seed}-{i}" for i in range(streams)]
        self.items = [f"item-{seed}-{i}" for i in range(items)]
        self.out: list[Published] = []
        self.confirmed: list[recharge.CoinPurchased] = []
        self.listed: dict[str, tuple[str, int, int]] = {}  # item -> owner, coins, version
        self.versions: dict[str, int] = defaultdict(int)
        self.available: dict[str, int] = defaultdict(int)
        self.open_payouts: list[payout.PayoutRequested] = []

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def emit(self, topic: str, aggregate: str, payload: Payload) -> Envelope:
        self.time += timedelta(seconds=self.rng.randint(1, 90))
        self.versions[aggregate] += 1
        env = new_envelope(
            f"/synthetic/{topic}",
            payload,
            aggregate_id=aggregate,
            aggregate_version=self.versions[aggregate],
            event_id=uuid.UUID(self.uid()),
        ).model_copy(update={"time": self.time})
        self.out.append(Published(topic, env))
        return env

    def purchase(self) -> None:
        user, pid = self.rng.choice(self.users), self.uid()
        coins = self.rng.choice([70, 350, 700, 1400, 3500])
        country, currency = self.rng.choice([("US", "USD"), ("GB", "GBP"), ("DE", "EUR")])
        channel = self.rng.choice(CHANNELS)
        price = Money(amount_minor=coins * 13 // 10, currency=currency)
        agg = f"purchase-{pid}"
        self.emit(
            topics.RECHARGE_EVENTS,
            agg,
            recharge.PurchaseCreated(
                purchase_id=pid,
                user_id=user,
                bundle_id=f"coins_{coins}",
                coins=coins,
                country=country,
                channel=channel,
                price=price,
                catalog_version=1,
                provider="sandbox",
            ),
        )
        if self.rng.random() < 0.15:
            reason = self.rng.choice(["declined", "timeout"])
            self.emit(
                topics.RECHARGE_EVENTS,
                agg,
                recharge.PurchaseFailed(
                    purchase_id=pid,
                    user_id=user,
                    bundle_id=f"coins_{coins}",
                    reason=reason,
                    provider="sandbox",
                ),
            )
            if reason == "timeout" and self.rng.random() < 0.5:  # paid late: refunded
                txn = self.uid()
                self.emit(
                    topics.RECHARGE_EVENTS,
                    agg,
                    recharge.PaymentRefundDue(
                        purchase_id=pid,
                        user_id=user,
                        provider="sandbox",
                        provider_txn_id=txn,
                        amount=price,
                    ),
                )
                if self.rng.random() < 0.8:
                    self.emit(
                        topics.RECHARGE_EVENTS,
                        agg,
                        recharge.PaymentRefunded(
                            purchase_id=pid,
                            user_id=user,
                            provider="sandbox",
                            provider_txn_id=txn,
                            refund_id=f"rf-{txn}",
                            amount=price,
                        ),
                    )
            return
        fx = Decimal(self.rng.choice(["1", "1.27", "1.08"]))
        settlement = int(price.amount_minor * fx)
        bought = recharge.CoinPurchased(
            purchase_id=pid,
            user_id=user,
            bundle_id=f"coins_{coins}",
            coins=coins,
            country=country,
            channel=channel,
            price=price,
            settlement=Money(amount_minor=settlement, currency="USD"),
            fee=Money(amount_minor=settlement * 3 // 100, currency="USD"),
            fx_rate=fx,
            catalog_version=1,
            rates_version=1,
            provider="sandbox",
            provider_txn_id=self.uid(),
        )
        self.emit(topics.RECHARGE_EVENTS, agg, bought)
        self.confirmed.append(bought)

    def clawback(self) -> None:
        if not self.confirmed:
            return
        p = self.confirmed.pop(self.rng.randrange(len(self.confirmed)))
        self.emit(
            topics.RECHARGE_EVENTS,
            f"purchase-{p.purchase_id}",
            recharge.CoinsClawedBack(
                purchase_id=p.purchase_id,
                user_id=p.user_id,
                coins=p.coins,
                reason_code=self.rng.choice(["chargeback", "friendly_fraud"]),
                provider=p.provider,
                provider_txn_id=p.provider_txn_id,
                settlement=p.settlement,
            ),
        )

    def gift(self) -> None:
        sender, creator = self.rng.choice(self.users), self.rng.choice(self.creators)
        live = self.rng.random() < 0.8
        context = gifting.GiftContext(
            kind="live" if live else "video",
            id=self.rng.choice(self.streams) if live else self.uid(),
        )
        code, price = self.rng.choice([("rose", 1), ("galaxy", 1000), ("lion", 29999)])
        combo = self.uid() if live and self.rng.random() < 0.3 else None
        for count in range(1, (self.rng.randint(2, 5) if combo else 1) + 1):
            quantity = self.rng.randint(1, 3)
            rate = Decimal("0.5")
            env = self.emit(
                topics.GIFTING_EVENTS,
                f"wallet-{sender}",
                gifting.GiftSent(
                    gift_id=self.uid(),
                    sender_id=sender,
                    creator_id=creator,
                    context=context,
                    gift_code=code,
                    quantity=quantity,
                    unit_price=price,
                    coins=quantity * price,
                    diamonds_per_coin=rate,
                    commission_rate=Decimal("0.5"),
                    rates_version=1,
                    catalog_version=1,
                    combo_id=combo,
                    combo_count=count,
                    balance_after=0,
                ),
            )
            self.credit(creator, env, quantity * price, rate, context.id if live else None)

    def list_item(self) -> None:
        item = self.rng.choice(self.items)
        owner = self.listed.get(item, (self.rng.choice(self.creators + ["platform"]), 0, 0))[0]
        version = self.listed.get(item, ("", 0, 0))[2] + 1
        coins = self.rng.choice([50, 100, 250])
        self.listed[item] = (owner, coins, version)
        self.emit(
            topics.GIFTING_EVENTS,
            f"item-{item}",
            gifting.ItemListed(
                item_id=item,
                owner_id=owner,
                title=f"{item} v{version}",
                coins=coins,
                item_version=version,
            ),
        )

    def unlock(self) -> None:
        if not self.listed:
            return self.list_item()
        item = self.rng.choice(sorted(self.listed))
        owner, coins, _ = self.listed[item]
        user = self.rng.choice(self.users)
        env = self.emit(
            topics.GIFTING_EVENTS,
            f"wallet-{user}",
            gifting.ContentUnlocked(
                unlock_id=self.uid(),
                user_id=user,
                item_id=item,
                owner_id=owner,
                coins=coins,
                diamonds_per_coin=Decimal("0.5"),
                commission_rate=Decimal("0.3"),
                rates_version=1,
                catalog_version=1,
                balance_after=0,
            ),
        )
        if owner != "platform":
            self.credit(owner, env, coins, Decimal("0.5"), None)

    def credit(
        self, creator: str, cause: Envelope, coins: int, rate: Decimal, stream: str | None
    ) -> None:
        diamonds = int(coins * rate)
        held = diamonds // 10
        self.available[creator] += diamonds - held
        self.emit(
            topics.PAYOUT_EVENTS,
            f"creator-{creator}",
            payout.DiamondsCredited(
                creator_id=creator,
                gift_event_id=str(cause.id),
                gift_id=self.uid(),
                stream_id=stream,
                coins=coins,
                diamonds_per_coin=rate,
                reserve_percent=Decimal(10),
                diamonds=diamonds,
                held=held,
                release_at=cause.time + timedelta(days=7) if held else None,
                earned_after=0,
            ),
        )
        if held and self.rng.random() < 0.5:
            self.available[creator] += held
            self.emit(
                topics.PAYOUT_EVENTS,
                f"creator-{creator}",
                payout.DiamondsReleased(creator_id=creator, diamonds=held, held_after=0),
            )

    def request_payout(self) -> None:
        creator = max(self.creators, key=lambda c: (self.available[c], c))
        diamonds = self.available[creator] // 2
        if diamonds <= 0:
            return
        self.available[creator] -= diamonds
        request = payout.PayoutRequested(
            payout_id=self.uid(),
            creator_id=creator,
            diamonds=diamonds,
            amount=Money(amount_minor=diamonds // 2, currency="USD"),
            usd_per_diamond=Decimal("0.005"),
            fx_rate=Decimal("1"),
            rates_version=1,
            method="bank",
            available_after=self.available[creator],
        )
        self.emit(topics.PAYOUT_EVENTS, f"creator-{creator}", request)
        self.open_payouts.append(request)

    def settle_payout(self) -> None:
        if not self.open_payouts:
            return
        r = self.open_payouts.pop(0)
        agg = f"creator-{r.creator_id}"
        self.emit(
            topics.PAYOUT_EVENTS,
            agg,
            payout.PayoutSubmitted(
                payout_id=r.payout_id,
                creator_id=r.creator_id,
                provider="sandbox",
                provider_ref=self.uid(),
            ),
        )
        if self.rng.random() < 0.8:
            self.emit(
                topics.PAYOUT_EVENTS,
                agg,
                payout.PayoutCompleted(
                    payout_id=r.payout_id,
                    creator_id=r.creator_id,
                    diamonds=r.diamonds,
                    amount=r.amount,
                ),
            )
        else:
            self.available[r.creator_id] += r.diamonds
            self.emit(
                topics.PAYOUT_EVENTS,
                agg,
                payout.PayoutFailed(
                    payout_id=r.payout_id,
                    creator_id=r.creator_id,
                    diamonds=r.diamonds,
                    reason="provider_failure",
                ),
            )


def generate(count: int, seed: int, duplicates: float = 0.01, **sizes) -> list[Published]:
    """At least `count` messages (the last flow is finished), a `duplicates` share re-sent."""
    s = Stream(seed, **sizes)
    actions = [
        (s.purchase, 30),
        (s.gift, 40),
        (s.unlock, 12),
        (s.list_item, 2),
        (s.clawback, 2),
        (s.request_payout, 3),
        (s.settle_payout, 3),
    ]
    moves, weights = zip(*actions, strict=True)
    while len(s.out) < count:
        s.rng.choices(moves, weights)[0]()
    out = list(s.out)
    for _ in range(int(len(out) * duplicates)):  # a re-send comes after the original
        original = s.rng.randrange(len(out))
        out.insert(s.rng.randint(original + 1, len(out)), out[original])
    return out


def expected(published: list[Published]) -> dict[str, dict]:
    """The figures each read model must show for these messages, each event counted once.
    Keys and tuples match `queries.ORACLE_QUERIES`."""
    seen: set = set()
    unique = []
    for m in published:
        if m.envelope.id not in seen:
            seen.add(m.envelope.id)
            unique.append(m.envelope)
    wallets: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    statements: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    creators: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0])
    per_stream: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    per_day: defaultdict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    gifters: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    combos: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    items: defaultdict[str, list[Any]] = defaultdict(lambda: [0, 0, None, 0])
    purchases: defaultdict[str, list[Any]] = defaultdict(
        lambda: [False, False, False, 0, None, None]
    )
    commission: defaultdict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    payouts: defaultdict[str, list[bool]] = defaultdict(lambda: [False, False, False])
    for e in unique:
        d, t = e.data, e.time
        day = t.astimezone(UTC).date()
        if e.type == "CoinPurchased":
            w = wallets[d["user_id"]]
            w[0] += d["coins"]
            w[4] += d["coins"]
            statements[d["user_id"]][1] += d["coins"]
            purchases[d["purchase_id"]][1] = True
        elif e.type == "CoinsClawedBack":
            w = wallets[d["user_id"]]
            w[1] += d["coins"]
            w[4] -= d["coins"]
            statements[d["user_id"]][1] -= d["coins"]
            purchases[d["purchase_id"]][3] += d["coins"]
        elif e.type == "GiftSent":
            w = wallets[d["sender_id"]]
            w[2] += d["coins"]
            w[4] -= d["coins"]
            statements[d["sender_id"]][1] -= d["coins"]
            if d["context"]["kind"] == "live":
                g = gifters[(d["context"]["id"], d["sender_id"])]
                g[0] += 1
                g[1] += d["coins"]
                if d["combo_id"]:
                    c = combos[(d["context"]["id"], d["combo_id"])]
                    c[0] += 1
                    c[1] += d["coins"]
                    c[2] = max(c[2], d["combo_count"])
            cm = commission[(day, "gift")]
            cm[0] += 1
            cm[1] += d["coins"]
            cm[2] += d["coins"] * Decimal(d["commission_rate"])
        elif e.type == "ContentUnlocked":
            w = wallets[d["user_id"]]
            w[3] += d["coins"]
            w[4] -= d["coins"]
            statements[d["user_id"]][1] -= d["coins"]
            items[d["item_id"]][0] += 1
            items[d["item_id"]][1] += d["coins"]
            cm = commission[(day, "unlock")]
            cm[0] += 1
            cm[1] += d["coins"]
            cm[2] += d["coins"] * Decimal(d["commission_rate"])
        elif e.type == "ItemListed":
            i = items[d["item_id"]]
            if d["item_version"] > i[3]:
                i[2], i[3] = d["title"], d["item_version"]
        elif e.type == "PurchaseCreated":
            purchases[d["purchase_id"]][0] = True
        elif e.type == "PurchaseFailed":
            purchases[d["purchase_id"]][2] = True
        elif e.type == "PaymentRefundDue":
            purchases[d["purchase_id"]][4] = d["amount"]["amount_minor"]
        elif e.type == "PaymentRefunded":
            purchases[d["purchase_id"]][4] = d["amount"]["amount_minor"]
            purchases[d["purchase_id"]][5] = d["refund_id"]
        elif e.type == "DiamondsCredited":
            c = creators[d["creator_id"]]
            c[0] += 1
            c[1] += d["coins"]
            c[2] += d["diamonds"]
            c[3] += d["held"]
            if d["stream_id"]:
                s = per_stream[(d["creator_id"], d["stream_id"])]
                s[0] += 1
                s[1] += d["diamonds"]
            per_day[(d["creator_id"], day)][0] += 1
            per_day[(d["creator_id"], day)][1] += d["diamonds"]
        elif e.type == "DiamondsReleased":
            creators[d["creator_id"]][3] -= d["diamonds"]
        elif e.type == "PayoutRequested":
            creators[d["creator_id"]][4] += d["diamonds"]
            payouts[d["payout_id"]][0] = True
        elif e.type == "PayoutCompleted":
            creators[d["creator_id"]][4] -= d["diamonds"]
            creators[d["creator_id"]][5] += d["diamonds"]
            per_day[(d["creator_id"], day)][2] += d["diamonds"]
            payouts[d["payout_id"]][1] = True
        elif e.type == "PayoutFailed":
            creators[d["creator_id"]][4] -= d["diamonds"]
            payouts[d["payout_id"]][2] = True
        else:
            continue
        if e.type in ("CoinPurchased", "CoinsClawedBack", "GiftSent", "ContentUnlocked"):
            user = d.get("user_id") or d["sender_id"]
            wallets[user][5] += 1
            statements[user][0] += 1
        if e.type.startswith(("Diamonds", "Payout")) and e.type not in (
            "PayoutApproved",
            "PayoutSubmitted",
            "PayoutMethodSet",
        ):
            creators[d["creator_id"]][6] += 1
    return {
        "wallet_balances": {k: tuple(v) for k, v in wallets.items()},
        "wallet_statements": {k: tuple(v) for k, v in statements.items()},
        "creator_earnings": {k: tuple(v) for k, v in creators.items()},
        "creator_stream_earnings": {k: tuple(v) for k, v in per_stream.items()},
        "creator_daily_earnings": {k: tuple(v) for k, v in per_day.items()},
        "stream_gifters": {k: tuple(v) for k, v in gifters.items()},
        "stream_combos": {k: tuple(v) for k, v in combos.items()},
        "item_unlocks": {k: tuple(v[:3]) for k, v in items.items()},
        "purchases": {k: tuple(v) for k, v in purchases.items()},
        "platform_commission_daily": {k: tuple(v) for k, v in commission.items()},
        "payouts": {k: tuple(v) for k, v in payouts.items()},
        "projected_events": {"events": (len(unique),)},
    }


# One query per table: a key (one or two columns) and the figures `expected` computes.
ORACLE_QUERIES = {
    "wallet_balances": "SELECT user_id, purchased, clawed_back, gifted, unlocked, balance, events"
    " FROM wallet_balances",
    "wallet_statements": "SELECT user_id, count(*), sum(coins) FROM wallet_statements"
    " GROUP BY user_id",
    "creator_earnings": "SELECT creator_id, gifts_received, coins_received, diamonds_earned,"
    " diamonds_held, diamonds_pending, diamonds_paid, events"
    " FROM creator_earnings",
    "creator_stream_earnings": "SELECT creator_id, stream_id, credits, diamonds"
    " FROM creator_stream_earnings",
    "creator_daily_earnings": "SELECT creator_id, day, credits, diamonds_earned, diamonds_paid"
    " FROM creator_daily_earnings",
    "stream_gifters": "SELECT stream_id, sender_id, gifts, coins FROM stream_gifters",
    "stream_combos": "SELECT stream_id, combo_id, gifts, coins, max_combo_count FROM stream_combos",
    "item_unlocks": "SELECT item_id, unlocks, coins, title FROM item_unlocks",
    "purchases": "SELECT purchase_id, created_at IS NOT NULL, confirmed_at IS NOT NULL,"
    " declined_at IS NOT NULL, clawed_back_coins, refund_minor, refund_id"
    " FROM purchases",
    "platform_commission_daily": "SELECT day, source, events, coins, commission_coins"
    " FROM platform_commission_daily",
    "payouts": "SELECT payout_id, requested_at IS NOT NULL, completed_at IS NOT NULL,"
    " failed_at IS NOT NULL FROM payouts",
    "projected_events": "SELECT 'events', count(*) FROM projected_events",
}
KEY_WIDTH = {
    "creator_stream_earnings": 2,
    "creator_daily_earnings": 2,
    "stream_gifters": 2,
    "stream_combos": 2,
    "platform_commission_daily": 2,
}


async def actual(conn, keys: set[str] | None = None) -> dict[str, dict]:
    """The same figures read back from the tables, shaped like `expected()`."""
    out = {}
    for name, sql in ORACLE_QUERIES.items():
        if keys is not None and name not in keys:
            continue
        width = KEY_WIDTH.get(name, 1)
        rows = await conn.fetch(sql)
        out[name] = {(tuple(r[:width]) if width > 1 else r[0]): tuple(r[width:]) for r in rows}
    return out


def differences(want: dict[str, dict], got: dict[str, dict], limit: int = 5) -> list[str]:
    """Human-readable mismatches per table (empty when every model counts every event once)."""
    found = []
    for name, rows in want.items():
        have = got.get(name, {})
        bad = [k for k in rows.keys() | have.keys() if rows.get(k) != have.get(k)]
        found += [
            f"{name}[{k}]: expected {rows.get(k)}, table has {have.get(k)}"
            for k in sorted(bad, key=str)[:limit]
        ]
    return found


async def publish(settings, messages: list[Published]) -> None:
    """Sends the messages in order (key = aggregate id, as the outbox relays do)."""
    from eventkit.kafka import producer
    from eventkit.signing import owner_headers

    out = producer(settings, "admin")  # publishes every topic's messages
    await out.start()
    try:
        pending = []
        for m in messages:
            value = m.value()
            headers = owner_headers(settings, m.topic, value, m.key)
            pending.append(
                await out.send(settings.topic(m.topic), value, key=m.key, headers=headers)
            )
        for fut in pending:
            await fut
    finally:
        await out.stop()


async def snapshot(pool) -> dict[str, list[tuple]]:
    """Every read-model table, every column, in key order (rebuild = live comparisons)."""
    out = {}
    for model in READ_MODELS.values():
        for table in model.tables:
            keys = ", ".join(c.name for c in table.key)
            out[table.name] = [
                tuple(r) for r in await pool.fetch(f"SELECT * FROM {table.name} ORDER BY {keys}")
            ]
    return out
