"""Every API's /metrics (eventkit.metrics through eventkit.http's app factory), in-process
over ASGI with no database: RED per route template, refusals by problem type, idempotent
replays, and unmatched paths folded into one label. Also the middleware's per-request cost."""

import time

import httpx
import pytest
from fastapi import APIRouter, Response
from prometheus_client.parser import text_string_to_metric_families

from eventkit.http import create_app
from eventkit.problems import DomainError
from eventkit.settings import Settings


class Broke(DomainError):
    status, code, title = 409, "thing-broke", "The thing broke"


@pytest.fixture
def app():
    router = APIRouter()

    @router.get("/things/{thing}")
    async def get_thing(thing: str) -> dict:
        if thing == "broken":
            raise Broke()
        return {"thing": thing}

    @router.post("/again")
    async def again() -> Response:
        return Response(b"{}", 200, headers={"Idempotent-Replayed": "true"})

    return create_app("t", f"metrics-test-{time.monotonic_ns()}", Settings(), [router])


def samples(text: str, family: str, **labels) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        if f.name == family
        for s in f.samples
        if s.name == family + ("_total" if f.type == "counter" else "_count")
        and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_api_metrics_count_routes_refusals_and_replays(app):
    service = (
        app.title
        and next(m for m in app.user_middleware if m.cls.__name__ == "RedMiddleware").kwargs[
            "service"
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for thing in ("a", "b", "broken"):
            await c.get(f"/things/{thing}")
        await c.post("/again")
        await c.get("/no/such/path")
        text = (await c.get("/metrics")).text
    route = "/things/{thing}"
    assert (
        samples(text, "coinstream_http_requests", service=service, route=route, status="200") == 2
    )
    assert (
        samples(text, "coinstream_http_requests", service=service, route=route, status="409") == 1
    )
    assert (
        samples(text, "coinstream_http_request_duration_seconds", service=service, route=route) == 3
    )
    assert samples(text, "coinstream_http_refusals", service=service, type="thing-broke") == 1
    assert samples(text, "coinstream_idempotency_replays", service=service, route="/again") == 1
    assert samples(text, "coinstream_http_requests", service=service, route="unmatched") == 1
    assert "/things/a" not in text  # a label is the template, never the path


def test_the_middleware_costs_little_per_request(capsys):
    """In-process CPU of one request through the RED middleware (no I/O): printed for the
    record, and bounded loosely so a regression to a per-request parse or lock shows."""
    import asyncio

    from eventkit.metrics import RedMiddleware

    async def endpoint(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    wrapped = RedMiddleware(endpoint, service="cost")
    scope = {"type": "http", "method": "POST", "path": "/v1/gifts", "headers": []}

    async def noop(*_):
        return None

    n = 20000

    async def per_request(app) -> float:
        began = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), noop, noop)
        return (time.perf_counter() - began) / n

    async def both() -> float:
        bare = min([await per_request(endpoint) for _ in range(3)])
        return min([await per_request(wrapped) for _ in range(3)]) - bare

    cost = asyncio.run(both())
    with capsys.disabled():
        print(f"\nRED middleware: {cost * 1e6:.1f} µs per request (in-process CPU)")
    assert cost < 100e-6


def test_every_procfile_process_is_listed_for_the_ops_view():
    from eventkit.metrics import PROCESSES
    from infra.system import procfile

    listed = {tuple(command.split()[2:4]) for command in procfile().values()}
    assert {(f"services.{s}", r) for s, r in PROCESSES} == listed


def test_the_ops_view_reads_the_families_into_rows():
    from services.projections.dashboard.signals import rows

    text = "\n".join(
        [
            "# TYPE coinstream_consumer_lag gauge",
            'coinstream_consumer_lag{group="g",topic="t",partition="2"} 7.0',
            "# TYPE coinstream_consumer_dead_lettered counter",
            'coinstream_consumer_dead_lettered_total{group="g",topic="t"} 3.0',
            "# TYPE coinstream_outbox_depth gauge",
            'coinstream_outbox_depth{service="gifting"} 12.0',
            "# TYPE coinstream_outbox_oldest_unsent_age_seconds gauge",
            'coinstream_outbox_oldest_unsent_age_seconds{service="gifting"} 0.25',
            "# TYPE coinstream_http_requests counter",
            'coinstream_http_requests_total{service="gifting",method="POST",route="/v1/gifts",status="201"} 8.0',
            'coinstream_http_requests_total{service="gifting",method="POST",route="/v1/gifts",status="409"} 1.0',
            'coinstream_http_requests_total{service="gifting",method="POST",route="/v1/gifts",status="500"} 1.0',
            "# TYPE coinstream_http_request_duration_seconds histogram",
            'coinstream_http_request_duration_seconds_sum{service="gifting",method="POST",route="/v1/gifts"} 0.05',
            'coinstream_http_request_duration_seconds_count{service="gifting",method="POST",route="/v1/gifts"} 10.0',
            "",
        ]
    )
    panels = rows([("gifting-api", text), ("payout-relay", None)])
    assert panels["group_lag"]["rows"] == [
        {"process": "gifting-api", "group": "g", "topic": "t", "partition": 2, "lag": 7}
    ]
    assert panels["dead_letters"]["rows"][0]["dead_lettered"] == 3
    assert panels["outbox"]["rows"] == [
        {"service": "gifting", "depth": 12, "oldest_unsent_seconds": 0.25}
    ]
    assert panels["red"]["rows"] == [
        {
            "service": "gifting",
            "route": "POST /v1/gifts",
            "requests": 10,
            "errors": 1,
            "refusals": 1,
            "mean_ms": 5.0,
        }
    ]
    assert panels["processes"]["rows"] == [
        {"process": "gifting-api", "answers": True},
        {"process": "payout-relay", "answers": False},
    ]
