"""The CloudEvents Kafka binding checks (eventkit.binding), on their own: what every consumer
and the projections worker refuse, and the pre-binding messages they still read."""

import pytest

from eventkit import binding
from eventkit.codec import PoisonMessage, encode
from schemas import headers
from tests.integration.test_plumbing import envelope

EVENT = envelope("fan-binding")
KEY = EVENT.aggregateid.encode()
STRUCTURED = (headers.CONTENT_TYPE, headers.STRUCTURED_CONTENT_TYPE.encode())


def refused(check, *args) -> str:
    with pytest.raises(PoisonMessage) as caught:
        check(*args)
    return caught.value.reason


def test_publishers_announce_structured_mode():
    assert binding.binding_headers() == [STRUCTURED]


@pytest.mark.parametrize(
    "found",
    [
        [STRUCTURED],
        [("Content-Type", b"application/cloudevents+json")],  # no charset: JSON is UTF-8
        [(headers.CONTENT_TYPE, b'application/CloudEvents+JSON; charset="utf-8"')],
        [],  # published before the binding: the same document, read as it always was
        [(headers.KEY_ID, b"recharge-1"), (headers.SIGNATURE, b"x")],
    ],
)
def test_accepted_headers(found):
    binding.check_headers(found)


@pytest.mark.parametrize(
    "found, reason",
    [
        ([("ce_id", b"1"), ("ce_type", b"CoinPurchased")], "binding: binary content mode"),
        ([(headers.CONTENT_TYPE, b"application/json")], "binding: content-type 'application/json'"),
        (
            [(headers.CONTENT_TYPE, b"application/cloudevents+json; charset=latin-1")],
            "binding: content-type",
        ),
        ([(headers.CONTENT_TYPE, b"\xff\xfe")], "binding: content-type"),
        ([STRUCTURED, STRUCTURED], "binding: 2 content-type headers"),
    ],
)
def test_refused_headers(found, reason):
    assert refused(binding.check_headers, found).startswith(reason)


def test_the_key_must_be_the_aggregateid():
    binding.check_event(KEY, [STRUCTURED], EVENT)
    reason = refused(binding.check_event, b"elsewhere", [STRUCTURED], EVENT)
    assert reason == (
        f"binding: the Kafka key 'elsewhere' is not the event's aggregateid {EVENT.aggregateid!r}"
    )
    assert "key None" in refused(binding.check_event, None, [STRUCTURED], EVENT)


def test_ce_headers_present_in_structured_mode_must_carry_the_event_attributes():
    same = [
        STRUCTURED,
        ("ce_id", str(EVENT.id).encode()),
        ("ce_type", EVENT.type.encode()),
        ("ce_time", EVENT.time.isoformat().replace("+00:00", "Z").encode()),
        ("ce_aggregateversion", str(EVENT.aggregateversion).encode()),
    ]
    binding.check_event(KEY, same, EVENT)
    for name, value in [
        ("ce_type", b"GiftSent"),
        ("ce_id", b"not-the-id"),
        ("ce_nosuchattribute", b"x"),
        ("ce_data", encode(EVENT)),
        ("ce_time", b"yesterday"),
        ("ce_type", b"\xff"),
    ]:
        reason = refused(binding.check_event, KEY, [STRUCTURED, (name, value)], EVENT)
        assert reason.startswith(f"binding: header {name}"), reason


def test_the_raw_document_check_matches_the_envelope_check():
    import orjson

    doc = orjson.loads(encode(EVENT))
    binding.check_attributes(KEY, [STRUCTURED], doc)
    assert refused(binding.check_attributes, b"k", [], doc).startswith("binding: the Kafka key")
    # what is no envelope at all is left to the decoder, which names what is wrong with it
    binding.check_attributes(b"k", [], {"type": "Nope"})
