"""Consumer lag and freshness of the projections worker, as Prometheus metrics
(prometheus-client; the family names are those docs/observability.md lists).

Every few seconds: the topics' end offsets (a group-less consumer, so it never joins the
worker's group) minus the positions the worker recorded in the same transactions as its batches.
The figures are also written to `worker_status`, so the read API can say how fresh it is.
GET /metrics serves them; a port already taken only disables the endpoint (a second worker on
one host still projects).
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from eventkit.kafka import client_options
from eventkit.settings import Settings
from services.projections.offsets import positions, topic_partitions

log = logging.getLogger(__name__)


class LagMonitor:
    def __init__(self, settings: Settings, topics: list[str], projector, interval: float = 2.0):
        self.settings, self.topics, self.projector = settings, topics, projector
        self.interval = interval
        self.lag: dict[tuple[str, int], tuple[int, int]] = {}  # tp -> (end offset, next offset)
        self.last_event_time: datetime | None = None
        self.measured_at: float | None = None

    async def measure(self, consumer: AIOKafkaConsumer) -> None:
        tps = await topic_partitions(consumer, self.topics)
        ends = await consumer.end_offsets(tps)
        pool = self.projector.pool
        done = await positions(pool)
        self.lag = {
            (tp.topic, tp.partition): (ends[tp], done.get((tp.topic, tp.partition), 0))
            for tp in tps
        }
        self.last_event_time = self.projector.last_event_time or await pool.fetchval(
            "SELECT max(event_time) FROM projected_events"
        )
        now = datetime.now(UTC)
        keys = list(self.lag)
        await pool.execute(
            'INSERT INTO worker_status (topic, "partition", end_offset, next_offset, measured_at)'
            " SELECT *, $5::timestamptz FROM unnest($1::text[], $2::int[], $3::bigint[],"
            ' $4::bigint[]) ON CONFLICT (topic, "partition") DO UPDATE SET'
            " end_offset = EXCLUDED.end_offset, next_offset = EXCLUDED.next_offset,"
            " measured_at = EXCLUDED.measured_at",
            [t for t, _ in keys],
            [p for _, p in keys],
            [self.lag[k][0] for k in keys],
            [self.lag[k][1] for k in keys],
            now,
        )
        self.measured_at = time.time()

    def collect(self):
        """The families, read from the monitor's state at each scrape (a prometheus-client
        custom collector: no copy of the figures to keep in step)."""
        name = "coinstream_projections"
        lag = GaugeMetricFamily(
            f"{name}_consumer_lag",
            "Messages on the topic not yet projected.",
            labels=["topic", "partition"],
        )
        for (topic, part), (end, done) in sorted(self.lag.items()):
            lag.add_metric([topic, str(part)], max(0, end - done))
        yield lag
        total = sum(max(0, e - d) for e, d in self.lag.values())
        yield GaugeMetricFamily(f"{name}_consumer_lag_total", "Sum of consumer_lag.", value=total)
        if self.last_event_time:
            ts = self.last_event_time.timestamp()
            yield GaugeMetricFamily(
                f"{name}_last_event_time_seconds", "Time of the newest event projected.", value=ts
            )
            yield GaugeMetricFamily(
                f"{name}_last_event_age_seconds",
                "Seconds since the newest event projected.",
                value=max(0.0, time.time() - ts),
            )
        projector = self.projector
        yield CounterMetricFamily(
            f"{name}_events_projected",
            "Events projected.",
            value=projector.projected if projector else 0,
        )
        yield CounterMetricFamily(
            f"{name}_dead_lettered",
            "Messages sent to the dead-letter topic.",
            value=projector.dead_lettered if projector else 0,
        )
        if self.measured_at:
            yield GaugeMetricFamily(
                f"{name}_lag_measured_age_seconds",
                "Seconds since the lag was last measured.",
                value=time.time() - self.measured_at,
            )

    def render(self) -> str:
        """The Prometheus text exposition of this monitor's families (prometheus-client)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry).decode()

    async def serve(self, port: int) -> web.AppRunner | None:
        async def metrics(_request):
            return web.Response(text=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(_request):
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.settings.host, port).start()
        except OSError as exc:
            log.warning("metrics endpoint disabled: port %s: %s", port, exc)
            await runner.cleanup()
            return None
        log.info("metrics on http://127.0.0.1:%s/metrics", port)
        return runner

    async def run(self, port: int) -> None:
        runner = await self.serve(port)
        try:
            while True:  # Kafka may be down when the worker (re)starts: retry, never crash it
                consumer = AIOKafkaConsumer(
                    **client_options(self.settings, "projections"),
                    enable_auto_commit=False,
                )
                try:
                    await consumer.start()
                    while True:
                        try:
                            await self.measure(consumer)
                        except Exception as exc:  # noqa: BLE001 - metrics never stop the worker
                            log.warning("lag measurement failed: %r", exc)
                        await asyncio.sleep(self.interval)
                except KafkaError as exc:
                    log.warning("metrics: Kafka not answering (%r); retrying", exc)
                    await asyncio.sleep(self.interval)
                finally:
                    await consumer.stop()
        finally:
            if runner:
                await runner.cleanup()
