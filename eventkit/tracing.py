"""OpenTelemetry traces, off by default: nothing is instrumented, no provider is set and no
header is written unless OTEL_EXPORTER_OTLP_ENDPOINT is configured (`configure`) or a test
calls `enable` with its own exporter. Off, every helper here returns at its first line.

One command is followed through its HTTP request (FastAPI instrumentation), its transaction
(asyncpg instrumentation), the outbox row (`traceparent` column, written with the row: the
request's context survives the relay's restarts), the relay's produce span (aiokafka
instrumentation, which writes the W3C `traceparent` header of the produce span) and each
consumer's `process` span, parented on that header.

The CloudEvents distributed-tracing extension is carried as the `ce_traceparent` header (and
`ce_tracestate` when there is one): the context where the event was *created* (the request),
which the spec says must not change from hop to hop, while `traceparent` is the protocol's
own header for the hop (the produce span). Both share the trace id; eventkit.binding checks
that they do. Our structured-mode document itself is signed and unchanged.
"""

import contextvars
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from eventkit.settings import Settings
from schemas import headers

log = logging.getLogger(__name__)
TRACEPARENT = "traceparent"  # the W3C header, as Kafka carries it too
CE_TRACEPARENT = headers.CE_PREFIX + "traceparent"
CE_TRACESTATE = headers.CE_PREFIX + "tracestate"
_state = {"enabled": False}
# The business flow a log line belongs to (the event's correlationid while a consumer applies
# it), read by eventkit.service.JsonFormatter; tracing on or off.
CORRELATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


def enabled() -> bool:
    return _state["enabled"]


def configure(settings: Settings, process: str) -> bool:
    """Exports over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise leaves
    tracing off."""
    base = settings.otel_exporter_otlp_endpoint
    if not base:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # The generic variable names the collector; traces go to its /v1/traces (as the spec says).
    exporter = OTLPSpanExporter(endpoint=f"{base.rstrip('/')}/v1/traces")
    _install(process, BatchSpanProcessor(exporter))
    log.info("traces exported to %s", base)
    return True


def enable(process: str, exporter: SpanExporter) -> TracerProvider:
    """Tracing into `exporter`, span by span (tests: an InMemorySpanExporter)."""
    return _install(process, SimpleSpanProcessor(exporter))


def _install(process: str, processor) -> TracerProvider:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set only once
        provider = TracerProvider(resource=Resource.create({"service.name": process}))
        trace.set_tracer_provider(provider)
    provider.add_span_processor(processor)
    if not _state["enabled"]:  # the instrumentations patch the libraries once per process
        from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument()
        AIOKafkaInstrumentor().instrument()
    _state["enabled"] = True
    return provider


def disable() -> None:
    """Undoes `enable` (a test's), so the rest of its process runs untraced."""
    if not _state["enabled"]:
        return
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().uninstrument()
    AIOKafkaInstrumentor().uninstrument()
    _state["enabled"] = False


def instrument_app(app) -> None:
    if not _state["enabled"]:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to store with an outbox row (None when off)."""
    if not _state["enabled"]:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def trace_id() -> str | None:
    """The current trace id in hex, for log lines (None when off or outside any span)."""
    if not _state["enabled"]:
        return None
    span = trace.get_current_span().get_span_context()
    return format(span.trace_id, "032x") if span.is_valid else None


@contextmanager
def publishing(traceparent: str | None) -> Iterator[list[tuple[str, bytes]]]:
    """Around one relay send: the stored request context is current (so the aiokafka
    instrumentation's produce span joins the request's trace), and the headers to add
    (the CloudEvents tracing extension). Off, or for a row written untraced: nothing."""
    if not _state["enabled"] or not traceparent:
        yield []
        return
    token = context.attach(propagate.extract({TRACEPARENT: traceparent}))
    try:
        yield [(CE_TRACEPARENT, traceparent.encode())]
    finally:
        context.detach(token)


# While a group commit flushes a batch: the request context of each command, by its key.
_BATCH: contextvars.ContextVar[dict | None] = contextvars.ContextVar("batch_traces", default=None)


@contextmanager
def batch(traces: dict) -> Iterator[None]:
    """Around one group-commit flush: a span in the one request's trace (a batch of one) or
    linked to each request's (several), and `traceparent_for` answers for its commands."""
    if not _state["enabled"] or not any(traces.values()):
        yield
        return
    contexts = [propagate.extract({TRACEPARENT: t}) for t in traces.values() if t]
    links = [trace.Link(trace.get_current_span(c).get_span_context()) for c in contexts]
    tracer = trace.get_tracer("coinstream.group_commit")
    parent = contexts[0] if len(traces) == 1 else None
    flow = _BATCH.set(traces)
    try:
        with tracer.start_as_current_span(
            "group commit",
            context=parent,
            links=[] if parent else links,
            attributes={"coinstream.batch.size": len(traces)},
        ):
            yield
    finally:
        _BATCH.reset(flow)


def traceparent_for(key) -> str | None:
    """The traceparent of the batched command whose group-commit key is `key` (its request's),
    for the outbox row it writes; None when tracing is off or outside a traced batch."""
    traces = _BATCH.get() if _state["enabled"] else None
    return traces.get(key) if traces else None


def _carrier(found: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {
        k.lower(): v.decode("latin-1")
        for k, v in found or ()
        if k.lower() in (TRACEPARENT, "tracestate")
    }


@contextmanager
def processing(topic: str, group: str, found: Sequence[tuple[str, bytes]] | None) -> Iterator[None]:
    """A consumer's span for applying one message, parented on its `traceparent` header."""
    if not _state["enabled"]:
        yield
        return
    parent = propagate.extract(_carrier(found))
    tracer = trace.get_tracer("coinstream.consumer")
    with tracer.start_as_current_span(
        f"process {topic}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
        },
    ):
        yield


@contextmanager
def processing_batch(
    topic: str, group: str, found: Sequence[Sequence[tuple[str, bytes]] | None]
) -> Iterator[None]:
    """One span for a run applied together, linked to each message's trace."""
    if not _state["enabled"]:
        yield
        return
    links = []
    for one in found:
        span = trace.get_current_span(propagate.extract(_carrier(one))).get_span_context()
        if span.is_valid:
            links.append(trace.Link(span))
    tracer = trace.get_tracer("coinstream.consumer")
    with tracer.start_as_current_span(
        f"process {topic}",
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.batch.message_count": len(found),
            "messaging.consumer.group.name": group,
        },
    ):
        yield


@contextmanager
def projecting(
    messages: Sequence[tuple[str, Sequence[tuple[str, bytes]] | None]],
) -> Iterator[None]:
    """Around the projections worker's batch (its (topic, headers) per message): a `receive
    <topic>` span per traced message, in that message's trace (parented on its `traceparent`
    header), then one `project` span for the fold and its transaction. For a batch of one
    traced message that span is a child of its receive span, so the whole fold joins the
    command's trace; for several it is linked to each (a fold serves them all at once)."""
    if not _state["enabled"]:
        yield
        return
    tracer = trace.get_tracer("coinstream.projections")
    received = []
    for topic, found in messages:
        carrier = _carrier(found)
        if TRACEPARENT not in carrier:
            continue
        with tracer.start_as_current_span(
            f"receive {topic}",
            context=propagate.extract(carrier),
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
        ) as span:
            received.append(span.get_span_context())
    one = len(received) == 1
    parent = trace.set_span_in_context(trace.NonRecordingSpan(received[0])) if one else None
    with tracer.start_as_current_span(
        "project",
        context=parent,
        links=[] if one else [trace.Link(c) for c in received],
        attributes={"messaging.batch.message_count": len(messages)},
    ):
        yield
