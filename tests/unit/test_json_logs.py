"""Every process logs JSON lines (eventkit.service.configure_logging): each line parses, names
the process, and carries a correlation id and the trace id (null when there is none)."""

import json
import logging

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from eventkit import tracing
from eventkit.service import JsonFormatter


def line(record_args: dict, **extra) -> dict:
    record = logging.LogRecord(
        "coinstream.test", logging.WARNING, __file__, 1, "sent %s", ("x",), None
    )
    for k, v in extra.items():
        setattr(record, k, v)
    return json.loads(JsonFormatter("gifting-relay").format(record))


def test_a_line_is_json_with_process_correlation_and_trace_ids():
    out = line({}, correlation_id="c0ffee")
    assert out["process"] == "gifting-relay" and out["message"] == "sent x"
    assert out["level"] == "WARNING" and out["time"].endswith("Z")
    assert out["correlation_id"] == "c0ffee" and out["trace_id"] is None


def test_inside_a_span_the_line_names_its_trace():
    tracing.enable("json-logs", InMemorySpanExporter())
    try:
        from opentelemetry import trace

        with trace.get_tracer("t").start_as_current_span("s") as span:
            out = line({})
            assert out["trace_id"] == format(span.get_span_context().trace_id, "032x")
    finally:
        tracing.disable()


def test_while_a_consumer_applies_an_event_the_line_names_its_flow():
    flow = tracing.CORRELATION_ID.set("5f0c0c1e-0000-4000-8000-000000000001")
    try:
        assert line({})["correlation_id"] == "5f0c0c1e-0000-4000-8000-000000000001"
    finally:
        tracing.CORRELATION_ID.reset(flow)


def test_without_an_otlp_endpoint_nothing_is_traced_or_patched():
    import asyncpg
    from aiokafka import AIOKafkaProducer

    from eventkit.settings import Settings

    before = (asyncpg.Connection.execute, AIOKafkaProducer.send)
    assert tracing.configure(Settings(_env_file=None), "gifting-api") is False
    assert not tracing.enabled()
    assert (asyncpg.Connection.execute, AIOKafkaProducer.send) == before  # not instrumented
    assert tracing.current_traceparent() is None and tracing.trace_id() is None
    with tracing.publishing("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") as extra:
        assert extra == []  # no ce_traceparent header when off
