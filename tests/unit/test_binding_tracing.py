"""The CloudEvents distributed-tracing extension in our binding (eventkit.binding): the
`ce_traceparent`/`ce_tracestate` headers the relay adds when tracing is on are read, not
refused as attributes the document lacks, but a malformed or contradicting one is poison."""

import pytest

from eventkit import binding
from eventkit.codec import PoisonMessage
from schemas import headers
from tests.integration.test_plumbing import envelope

EVENT = envelope("fan-tracing")
KEY = EVENT.aggregateid.encode()
STRUCTURED = (headers.CONTENT_TYPE, headers.STRUCTURED_CONTENT_TYPE.encode())
CREATED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
HOP = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"  # same trace, the produce span
OTHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def check(found):
    binding.check_headers(found)
    binding.check_event(KEY, found, EVENT)


@pytest.mark.parametrize(
    "found",
    [
        [STRUCTURED, ("ce_traceparent", CREATED.encode())],
        [STRUCTURED, ("ce_traceparent", CREATED.encode()), ("traceparent", HOP.encode())],
        [STRUCTURED, ("ce_traceparent", CREATED.encode()), ("ce_tracestate", b"congo=t61rcWkgMzE")],
    ],
)
def test_the_tracing_extension_is_read(found):
    check(found)


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        ([STRUCTURED, ("ce_traceparent", b"not-a-traceparent")], "is not a W3C traceparent"),
        (
            [STRUCTURED, ("ce_traceparent", ("00-" + "0" * 32 + "-00f067aa0ba902b7-01").encode())],
            "is not a W3C traceparent",
        ),
        (
            [STRUCTURED, ("ce_traceparent", CREATED.encode()), ("traceparent", OTHER.encode())],
            "names another trace",
        ),
        ([STRUCTURED, ("ce_tracestate", b"x" * 513)], "longer than 512"),
        ([("ce_traceparent", CREATED.encode())], "binary content mode"),  # still structured only
    ],
)
def test_a_malformed_or_contradicting_extension_is_poison(found, reason):
    with pytest.raises(PoisonMessage) as caught:
        check(found)
    assert reason in caught.value.reason
