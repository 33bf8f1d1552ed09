"""Every process of the running system (the Procfile's, as `make run` starts them) answers
GET /metrics in the Prometheus text format with its families (docs/observability.md)."""

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventkit.metrics import PROCESSES

pytestmark = pytest.mark.e2e

# The families each kind of process exports as soon as it has done its first piece of work.
EXPECTED = {
    "api": {"coinstream_http_requests", "coinstream_http_request_duration_seconds"},
    "relay": {"coinstream_outbox_depth", "coinstream_outbox_oldest_unsent_age_seconds"},
    "consumer": {"coinstream_consumer_processed", "coinstream_consumer_dead_lettered"},
    "worker": set(),  # the families of its library (eventkit) and the process's own
}
PROJECTIONS_WORKER = {
    "coinstream_projections_consumer_lag",
    "coinstream_projections_events_projected",
}


def port(system, service: str, role: str) -> int:
    if role == "api":
        return system.ports[service]
    if (service, role) == ("projections", "worker"):
        return system.metrics_port
    return system.metrics_ports[f"{service}_{role}_metrics_port".upper()]


async def scrape(http: httpx.AsyncClient, url: str, process: str) -> httpx.Response:
    """A worker's server starts once its process is up, which /healthz of the APIs does not
    wait for: a few seconds' grace."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            r = await http.get(url)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        assert asyncio.get_running_loop().time() < deadline, f"{process}: no /metrics at {url}"
        await asyncio.sleep(0.5)


async def test_every_process_answers_metrics_with_its_families(system):
    async with httpx.AsyncClient(timeout=5) as http:
        await http.get(f"{system.url('gifting')}/healthz")  # a request for the API's counters
        for service, role in PROCESSES:
            url = f"http://127.0.0.1:{port(system, service, role)}/metrics"
            r = await scrape(http, url, f"{service}-{role}")
            assert r.headers["content-type"].startswith("text/plain"), (service, role)
            families = {f.name for f in text_string_to_metric_families(r.text)}
            want = PROJECTIONS_WORKER if (service, role) == ("projections", "worker") else set()
            if service == "gifting" or role != "api":
                want = want or EXPECTED[role]
            assert want <= families, (service, role, want - families)
