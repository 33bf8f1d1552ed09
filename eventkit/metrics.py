"""The Prometheus families every process exports (prometheus-client, its default registry), and
the two ways they are served: an API's own `/metrics` route, or a small server of its own for a
relay, consumer or worker (Settings.metrics_port_for). docs/observability.md lists them.

Labels stay bounded: a route is its template (`/v1/wallets/{user_id}`, never the user), a
refusal its problem type, a lag its topic and partition.
"""

import json
import logging
import time

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = b"application/problem+json"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# --- HTTP (RED per route) ---------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "coinstream_http_requests",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "coinstream_http_request_duration_seconds",
    "Time to answer an HTTP request (to the last body byte), by route template.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REFUSALS = Counter(
    "coinstream_http_refusals",
    "Requests answered with a problem+json, by problem type (its last path segment).",
    ["service", "route", "type"],
)
IDEMPOTENT_REPLAYS = Counter(
    "coinstream_idempotency_replays",
    "Requests answered with a stored response (Idempotent-Replayed: true).",
    ["service", "route"],
)

# --- outbox relay -------------------------------------------------------------------------
OUTBOX_DEPTH = Gauge("coinstream_outbox_depth", "Outbox rows not yet sent.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "coinstream_outbox_oldest_unsent_age_seconds",
    "Age of the oldest unsent outbox row (0 when none).",
    ["service"],
)
RELAY_PUBLISHED = Counter(
    "coinstream_relay_published", "Outbox rows published and acked.", ["service"]
)
RELAY_PUBLISH_SECONDS = Histogram(
    "coinstream_relay_publish_seconds",
    "Time from a batch's first send to its last ack (one sample per batch).",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# --- consumers ----------------------------------------------------------------------------
CONSUMER_LAG = Gauge(
    "coinstream_consumer_lag",
    "Messages on a partition past the group's position (the broker's high watermark minus it).",
    ["group", "topic", "partition"],
)
CONSUMER_PROCESSED = Counter(
    "coinstream_consumer_processed", "Messages applied (or skipped as repeats).", ["group", "topic"]
)
CONSUMER_DEAD_LETTERED = Counter(
    "coinstream_consumer_dead_lettered",
    "Messages sent to the dead-letter topic.",
    ["group", "topic"],
)


def router() -> APIRouter:
    """GET /metrics on an API's own port."""
    metrics = APIRouter(tags=["health"])

    @metrics.get("/metrics", summary="Prometheus metrics of this process", include_in_schema=False)
    def scrape() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def serve(host: str, port: int) -> bool:
    """A /metrics server on its own thread for a process without an HTTP API. A port already
    taken (two of the same process on one host) only disables it: the process still works."""
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("metrics endpoint disabled: port %s: %s", port, exc)
        return False
    log.info("metrics on http://%s:%s/metrics", host, port)
    return True


def problem_type(body: bytes) -> str:
    """The last segment of a problem+json body's `type` (`insufficient-funds`), or `unknown`."""
    try:
        kind = json.loads(body).get("type")
    except (ValueError, AttributeError):
        return "unknown"
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) and kind else "unknown"


class RedMiddleware:
    """Counts and times every HTTP request by its route template (plain ASGI: no extra tasks
    per request, unlike BaseHTTPMiddleware). Only a problem+json body is read, to name the
    refusal; every other body passes through untouched."""

    def __init__(self, app, service: str):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        seen: dict = {"status": 500, "problem": None, "replayed": False}

        async def watch(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"content-type" and value.startswith(PROBLEM_JSON):
                        seen["problem"] = []
                    elif name == b"idempotent-replayed" and value == b"true":
                        seen["replayed"] = True
            elif message["type"] == "http.response.body" and seen["problem"] is not None:
                seen["problem"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope.get("route")
            # Unmatched paths share one label, so a scanner cannot grow the series.
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            HTTP_DURATION.labels(self.service, method, template).observe(
                time.perf_counter() - start
            )
            HTTP_REQUESTS.labels(self.service, method, template, str(seen["status"])).inc()
            if seen["problem"] is not None:
                kind = problem_type(b"".join(seen["problem"]))
                REFUSALS.labels(self.service, template, kind).inc()
            if seen["replayed"]:
                IDEMPOTENT_REPLAYS.labels(self.service, template).inc()


# Every process of the system as (service, role), the Procfile's (tests/unit/test_metrics.py
# keeps them in step): where the ops dashboard scrapes, each at Settings.metrics_port_for.
PROCESSES = (
    ("recharge", "api"),
    ("recharge", "relay"),
    ("recharge", "consumer"),
    ("recharge", "worker"),
    ("gifting", "api"),
    ("gifting", "relay"),
    ("gifting", "consumer"),
    ("gifting", "worker"),
    ("payout", "api"),
    ("payout", "relay"),
    ("payout", "consumer"),
    ("payout", "worker"),
    ("projections", "worker"),
    ("projections", "api"),
)
