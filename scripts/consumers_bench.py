"""CPU per consumed event of the two consumers a gift storm drives: payout-consumer (GiftSent ->
credits, DiamondsCredited) and the projector (GiftSent + DiamondsCredited -> read models), each
with the PostgreSQL CPU its statements cost.

    python -m scripts.consumers_bench [--gifts 4000 --batch 100 --batch 500 --creators 2000]

In a namespace of its own (databases + topics, dropped afterwards): publishes `--gifts` signed
GiftSent v2 (fans spread over `--creators`, `--hot-share` of them to one creator), reads them
back off Kafka into memory, and times payout-consumer's `IdempotentConsumer.apply` over them in
batches of `--batch`; then signs and publishes the DiamondsCredited it wrote to its outbox (as
the relay would), reads both topics back and times the projector's path (`signed_only` +
`Projector.apply`, what the worker runs per faust batch) the same way. Kafka's fetch and
faust's own machinery are outside the timed part: what is timed is the code of ours each
message goes through, and the database work it causes.

CPU is from the kernel, so it holds on a shared machine where rates do not: this process's own
(time.process_time) and the PostgreSQL backends of this namespace's databases (bench.cost),
per event. Each batch size runs on a fresh copy of the databases' state (each run's events are
new ids), so the runs compare. Not a timed test: docs/performance.md ("Consumers") records what
this machine gave.
"""

import argparse
import asyncio
import gc
import random
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from bench.cost import TICK, backend_ticks, postmasters, scan
from eventkit.codec import encode, new_envelope
from eventkit.consumer import IdempotentConsumer
from eventkit.db import create_pool
from eventkit.kafka import client_options, producer
from eventkit.settings import Settings
from eventkit.signing import Verifier, owner_headers
from infra.namespace import drop_namespace, prepare_namespace
from schemas import topics
from schemas.envelope import Envelope
from schemas.events.gifting import GiftContext, GiftSentV2, Recipient
from services.payout.handlers import BATCH_HANDLERS, HANDLERS
from services.projections.offsets import end_offsets, topic_partitions
from services.projections.projector import Incoming, Projector
from services.projections.signatures import signed_decoded


def gift_storm(count: int, seed: int, fans: int, creators: int, hot_share: float) -> list[Envelope]:
    """`count` GiftSent v2 as gifting emits them: live gifts, a third in combos."""
    rng = random.Random(seed)
    versions: dict[str, int] = {}
    out = []
    for i in range(count):
        fan = f"fan-{rng.randrange(fans)}"
        creator = (
            "creator-hot" if rng.random() < hot_share else f"creator-{rng.randrange(creators)}"
        )
        wallet = f"wallet-{fan}"
        versions[wallet] = versions.get(wallet, 0) + 1
        combo = f"combo-{fan}-{i // 3}" if i % 3 else None
        payload = GiftSentV2(
            gift_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            sender_id=fan,
            recipients=(Recipient(creator_id=creator, share_bp=10_000),),
            context=GiftContext(kind="live", id=f"stream-{creator}"),
            gift_code="rose",
            quantity=1,
            unit_price=1,
            coins=1,
            diamonds_per_coin=Decimal("1"),
            commission_rate=Decimal("0.5"),
            rates_version=1,
            catalog_version=1,
            combo_id=combo,
            combo_count=1 + i % 3 if combo else 1,
            balance_after=1_000_000 - versions[wallet],
        )
        out.append(
            new_envelope(
                "/coinstream/gifting",
                payload,
                aggregate_id=wallet,
                aggregate_version=versions[wallet],
            )
        )
    return out


async def publish(settings: Settings, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    """(key, value) pairs signed by the topic's owner, as its relay sends them."""
    out = producer(settings, "admin")
    await out.start()
    try:
        pending = [
            await out.send(
                settings.topic(topic), v, key=k, headers=owner_headers(settings, topic, v, k)
            )
            for k, v in values
        ]
        for fut in pending:
            await fut
    finally:
        await out.stop()


async def read_all(settings: Settings, contract_topics: list[str]) -> list[ConsumerRecord]:
    """Every message of the topics, in partition order (what a consumer would fetch)."""
    names = [settings.topic(t) for t in contract_topics]
    ends = await end_offsets(settings, names)
    consumer = AIOKafkaConsumer(
        **client_options(settings, "projections"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, names)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[ConsumerRecord] = []
        while len(out) < sum(ends.values()):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += records
        return out
    finally:
        await consumer.stop()


@dataclass
class Cost:
    events: int
    seconds: float
    python_cpu: float
    postgres_cpu: float

    def line(self, what: str) -> str:
        per = 1e6 / self.events
        return (
            f"{what}: {self.events:,} events in {self.seconds:.2f}s;"
            f" CPU per event: python {self.python_cpu * per:,.0f} us,"
            f" postgresql {self.postgres_cpu * per:,.0f} us,"
            f" total {(self.python_cpu + self.postgres_cpu) * per:,.0f} us"
        )


def _backends(prefix: str) -> int:
    procs = scan()
    return sum(backend_ticks(procs, p, prefix) for p in postmasters(procs))


async def timed(prefix: str, batches: list[list], apply) -> Cost:
    """CPU of `apply` over every batch: this process's and this namespace's backends'. The
    backends must be alive at both samples (the pools are opened before and closed after)."""
    gc.collect()
    pg0, cpu0, t0 = _backends(prefix), time.process_time(), time.perf_counter()
    for batch in batches:
        await apply(batch)
    cpu, seconds = time.process_time() - cpu0, time.perf_counter() - t0
    return Cost(sum(map(len, batches)), seconds, cpu, (_backends(prefix) - pg0) / TICK)


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def payout_run(settings: Settings, records: list[ConsumerRecord], size: int) -> Cost:
    pool = await create_pool(settings.database_for("payout"), min_size=1, max_size=1)
    consumer = IdempotentConsumer(
        settings,
        pool,
        f"{settings.db_prefix}-payout",
        [topics.GIFTING_EVENTS],
        HANDLERS,
        BATCH_HANDLERS,
        principal="payout",
    )

    async def apply(batch: list[ConsumerRecord]) -> None:
        if await consumer.apply(batch):
            raise SystemExit("payout-consumer dead-lettered part of a clean storm")

    try:
        return await timed(settings.db_prefix, chunks(records, size), apply)
    finally:
        await pool.close()


async def projector_run(settings: Settings, records: list[ConsumerRecord], size: int) -> Cost:
    pool = await create_pool(settings.database_for("projections"), min_size=1, max_size=1)
    projector, verifier = Projector(pool), Verifier(settings)

    async def apply(batch: list[ConsumerRecord]) -> None:  # the worker's agent, faust apart
        good, forged = signed_decoded(
            verifier,
            [(Incoming(r.value, r.key, r.topic, r.partition, r.offset), r.headers) for r in batch],
        )
        if forged or await projector.apply(good):
            raise SystemExit("the projector refused part of a clean storm")

    try:
        return await timed(settings.db_prefix, chunks(records, size), apply)
    finally:
        await pool.close()


async def outbox_values(settings: Settings) -> list[tuple[bytes, bytes]]:
    pool = await create_pool(settings.database_for("payout"), min_size=1, max_size=1)
    try:
        rows = await pool.fetch(
            "SELECT key, value FROM outbox WHERE topic = $1 ORDER BY id", topics.PAYOUT_EVENTS
        )
        return [(r["key"].encode(), bytes(r["value"])) for r in rows]
    finally:
        await pool.close()


async def one_size(args, size: int) -> tuple[Cost, Cost]:
    prefix = f"cbench{uuid.uuid4().hex[:6]}"
    settings = Settings().model_copy(update={"db_prefix": prefix, "topic_prefix": f"{prefix}."})
    await prepare_namespace(settings)
    try:
        gifts = gift_storm(args.gifts, args.seed, args.fans, args.creators, args.hot_share)
        await publish(
            settings, topics.GIFTING_EVENTS, [(e.aggregateid.encode(), encode(e)) for e in gifts]
        )
        gift_records = await read_all(settings, [topics.GIFTING_EVENTS])
        gc.collect()
        gc.freeze()  # the generated events would slow every collection below
        payout = await payout_run(settings, gift_records, size)
        await publish(settings, topics.PAYOUT_EVENTS, await outbox_values(settings))
        both = await read_all(settings, [topics.GIFTING_EVENTS, topics.PAYOUT_EVENTS])
        projector = await projector_run(settings, both, size)
        gc.unfreeze()
        return payout, projector
    finally:
        await drop_namespace(settings)


async def main_async(args) -> None:
    for size in args.batch or [100, 500]:
        payout, projector = await one_size(args, size)
        print(payout.line(f"payout-consumer, batches of {size}"), flush=True)
        print(projector.line(f"projector, batches of {size}"), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gifts", type=int, default=4_000)
    parser.add_argument("--batch", type=int, action="append", help="repeatable; 100 and 500")
    parser.add_argument("--fans", type=int, default=500)
    parser.add_argument("--creators", type=int, default=2_000)
    parser.add_argument("--hot-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
