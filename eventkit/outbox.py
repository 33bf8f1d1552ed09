"""The outbox relay: publishes committed outbox rows to Kafka, then marks them sent.

A crash between send and mark re-sends those rows on restart (consumers dedupe on event id), so
nothing committed is ever lost. One relay per database is active at a time (a session advisory
lock), which keeps per-aggregate order even with several replicas running as standbys.

The relay polls (every 20 ms when idle) rather than waiting for NOTIFY: PostgreSQL serialises
the commits of every transaction that notifies, which cost the gift path most of its group
commit (measured with pgbench: 3,237 -> 1,077 tps at 8 clients).
"""

import asyncio
import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from eventkit.kafka import producer
from eventkit.settings import Settings
from eventkit.signing import owner_headers

log = logging.getLogger(__name__)
_LEADER_LOCK = 0x0B0C_5E7D


class OutboxRelay:
    def __init__(
        self,
        settings: Settings,
        dsn: str,
        batch_size: int = 1000,
        idle_seconds: float = 0.02,
        *,
        principal: str,  # the service whose topics it writes (its Kafka principal)
    ):
        self.settings, self.dsn, self.principal = settings, dsn, principal
        self.batch_size, self.idle_seconds = batch_size, idle_seconds
        self.conn: asyncpg.Connection | None = None
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.conn = conn = await asyncpg.connect(self.dsn)
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
            log.info("another relay is active on this database; standing by")
            await asyncio.sleep(1)
        self.producer = producer(self.settings, self.principal)
        await self.producer.start()

    def _started(self) -> tuple[asyncpg.Connection, AIOKafkaProducer]:
        if self.conn is None or self.producer is None:
            raise RuntimeError("the relay is not started")
        return self.conn, self.producer

    async def stop(self) -> None:
        if self.producer:
            await self.producer.stop()
        if self.conn and not self.conn.is_closed():
            await self.conn.close()
        self.producer = self.conn = None

    async def send_batch(self) -> list[int]:
        """Sends the oldest unsent rows in order and waits for every ack; returns their ids."""
        conn, kafka = self._started()
        rows = await conn.fetch(
            "SELECT id, topic, key, value FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1",
            self.batch_size,
        )
        futures = []
        for r in rows:
            topic, key, value = r["topic"], r["key"].encode(), r["value"]
            # Signed with the key of the topic's owner, which is this service (each service's
            # outbox holds its own topics only; in production its process holds no other key).
            headers = owner_headers(self.settings, topic, value, key)
            futures.append(
                await kafka.send(self.settings.topic(topic), value=value, key=key, headers=headers)
            )
        await asyncio.gather(*futures)
        return [r["id"] for r in rows]

    async def mark_sent(self, ids: list[int]) -> None:
        conn, _ = self._started()
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", ids)

    async def relay_once(self) -> int:
        ids = await self.send_batch()
        if ids:
            await self.mark_sent(ids)
        return len(ids)

    async def run(self) -> None:
        """Relays forever; a lost broker or database connection restarts the loop after a pause."""
        while True:
            try:
                await self.start()
                while True:
                    if await self.relay_once() < self.batch_size:
                        await asyncio.sleep(self.idle_seconds)
            except Exception as exc:  # noqa: BLE001 - any outage: reconnect, never exit
                log.warning("relay interrupted (%r); retrying in 1s", exc)
                await asyncio.sleep(1)
            finally:
                await self.stop()
