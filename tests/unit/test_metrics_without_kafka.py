"""The projections worker's lag monitor runs as a faust task: if it raised when Kafka is down
at (re)start, the whole worker process would exit (a fault-injection run found this)."""

import asyncio

from eventkit.settings import Settings
from infra.system import free_port
from services.projections.metrics import LagMonitor


async def test_the_lag_monitor_keeps_trying_while_kafka_is_down():
    unreachable = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    monitor = LagMonitor(unreachable, ["t.gifting.events"], projector=None, interval=0.2)
    running = asyncio.create_task(monitor.run(free_port()))
    await asyncio.sleep(1.5)
    try:
        assert not running.done(), running.exception()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
