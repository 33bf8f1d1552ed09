"""The CloudEvents Kafka protocol binding of our topics: structured content mode. The value is
the envelope (a CloudEvent JSON document, schemas.envelope) and the header `content-type:
application/cloudevents+json; charset=UTF-8` says so; the Kafka key is the event's
`aggregateid` (per-aggregate order), which is what the binding's `partitionkey` maps to.

Publishers add the header through eventkit.signing.signed_headers (the one helper every
publisher calls). Consumers check, after the signature and around the decode:
- before parsing (check_headers): a `content-type` other than structured CloudEvents JSON in
  UTF-8, more than one, or binary mode (`ce_*` headers without a `content-type`) is refused;
- after parsing (check_event): the Kafka key must be the `aggregateid`, and any `ce_*` header
  present (the binding allows them in structured mode) must name an attribute of the event
  and carry its value; the one exception is the distributed-tracing extension
  (`ce_traceparent`, `ce_tracestate`: eventkit.tracing), which the document does not carry:
  a well-formed W3C value, of the same trace as the message's `traceparent` header.
A message with neither a `content-type` nor any `ce_*` header is one published before the
binding (the value is the same document): it is read, so topics written earlier replay.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from eventkit.codec import PoisonMessage
from schemas import headers
from schemas.envelope import Envelope

Headers = list[tuple[str, bytes]]
_MEDIA_TYPE = "application/cloudevents+json"


def binding_headers() -> Headers:
    """The header every message on our topics carries (structured content mode)."""
    return [(headers.CONTENT_TYPE, headers.STRUCTURED_CONTENT_TYPE.encode())]


def _named(found: Sequence[tuple[str, bytes]], name: str) -> list[bytes]:
    # Kafka header names are case-sensitive, but HTTP bridges and SDKs vary the case of
    # content-type; one of ours in any case is still ours.
    return [v for k, v in found if k.lower() == name]


def _ce(found: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in found if k.lower().startswith(headers.CE_PREFIX)]


def _is_structured(raw: bytes) -> bool:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return False
    media, *params = (part.strip() for part in text.split(";"))
    if media.lower() != _MEDIA_TYPE:
        return False
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if name != "charset" or value not in ("utf-8", "utf8"):
            return False
    return True


def check_headers(found: Sequence[tuple[str, bytes]] | None) -> None:
    """Raises PoisonMessage unless the headers are our binding's (or a pre-binding message's)."""
    found = found or ()
    content_types = _named(found, headers.CONTENT_TYPE)
    if not content_types:
        if _ce(found):
            raise PoisonMessage(
                "binding: binary content mode (ce_* headers, no content-type); our topics are "
                f"in structured mode ({headers.CONTENT_TYPE}: {headers.STRUCTURED_CONTENT_TYPE})"
            )
        return  # published before the binding: the value is the same CloudEvent document
    if len(content_types) > 1:
        raise PoisonMessage(f"binding: {len(content_types)} {headers.CONTENT_TYPE} headers")
    if not _is_structured(content_types[0]):
        shown = content_types[0][:200].decode("utf-8", "replace")
        raise PoisonMessage(
            f"binding: {headers.CONTENT_TYPE} {shown!r} is not "
            f"{headers.STRUCTURED_CONTENT_TYPE!r} (structured content mode)"
        )


def _same(attribute: str, header: str, value: Any) -> bool:
    if value is None:
        return False
    if attribute == "time":  # one instant has several spellings (Z, +00:00, fractions)
        try:
            return datetime.fromisoformat(header) == datetime.fromisoformat(str(value))
        except ValueError:
            return False
    return header == str(value)


# The CloudEvents distributed-tracing extension, carried as headers only (eventkit.tracing):
# the document is signed and does not name them.
_TRACING = ("traceparent", "tracestate")
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def _check_tracing(attribute: str, text: str, found: Sequence[tuple[str, bytes]]) -> None:
    """A `ce_traceparent` must be a W3C traceparent (not the all-zero ids), and of the same
    trace as the message's own `traceparent` header when it has one; `ce_tracestate` is
    free-form (W3C list syntax, at most 512 characters)."""
    if attribute == "tracestate":
        if len(text) > 512:
            raise PoisonMessage("binding: header ce_tracestate is longer than 512 characters")
        return
    match = _TRACEPARENT.match(text)
    if not match or match[1] == "ff" or set(match[2]) == {"0"} or set(match[3]) == {"0"}:
        raise PoisonMessage(
            f"binding: header ce_traceparent={text[:200]!r} is not a W3C traceparent"
        )
    hop = _named(found, "traceparent")
    if hop:
        other = _TRACEPARENT.match(hop[0].decode("latin-1"))
        if other and other[2] != match[2]:
            raise PoisonMessage(
                "binding: header ce_traceparent names another trace than the traceparent header"
            )


def check_attributes(
    key: bytes | None, found: Sequence[tuple[str, bytes]] | None, event: Mapping[str, Any]
) -> None:
    """check_event on the event's attributes as JSON values (the raw document's)."""
    aggregate = event.get("aggregateid")
    if isinstance(aggregate, str) and key != aggregate.encode():
        shown = None if key is None else key[:200].decode("utf-8", "replace")
        raise PoisonMessage(
            f"binding: the Kafka key {shown!r} is not the event's aggregateid {aggregate!r}"
        )
    for name, raw in _ce(found or ()):
        attribute = name[len(headers.CE_PREFIX) :].lower()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PoisonMessage(f"binding: header {name} is not UTF-8") from None
        if attribute in _TRACING and attribute not in event:
            _check_tracing(attribute, text, found or ())
            continue
        if attribute == "data" or not _same(attribute, text, event.get(attribute)):
            raise PoisonMessage(
                f"binding: header {name}={text[:200]!r} does not match the event's "
                f"{attribute!r} attribute"
            )


def check_event(
    key: bytes | None, found: Sequence[tuple[str, bytes]] | None, envelope: Envelope
) -> None:
    """Raises PoisonMessage unless the key is the event's aggregateid and every ce_* header
    present carries the value of the attribute it names."""
    if key != envelope.aggregateid.encode():
        check_attributes(key, (), {"aggregateid": envelope.aggregateid})
    if _ce(found or ()):
        check_attributes(key, found, envelope.model_dump(mode="json", exclude={"data"}))
