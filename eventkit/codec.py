"""Envelope <-> bytes on the wire. Decoding sorts bad input into typed PoisonMessage reasons."""

from uuid import UUID, uuid4

import orjson
from pydantic import ValidationError

from schemas.envelope import Envelope, utcnow
from schemas.events.base import Payload
from schemas.registry import payload_model
from schemas.upcast import upcast


class PoisonMessage(Exception):
    """A message no consumer can apply; it goes to the dead-letter topic with `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def new_envelope(
    source: str,
    payload: Payload,
    *,
    aggregate_id: str,
    aggregate_version: int,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    subject: str | None = None,
    event_id: UUID | None = None,
) -> Envelope:
    event_id = event_id or uuid4()
    return Envelope(
        specversion="1.0",
        id=event_id,
        time=utcnow(),
        source=source,
        type=payload.event_type,
        dataversion=payload.version,
        subject=subject or aggregate_id,
        aggregateid=aggregate_id,
        aggregateversion=aggregate_version,
        correlationid=correlation_id or event_id,
        causationid=causation_id,
        data=payload.model_dump(mode="json"),
    )


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def decode(raw: bytes | None) -> tuple[Envelope, Payload]:
    """Parses and validates an envelope and its payload, or raises PoisonMessage. The payload
    comes upcast to the newest version of its type (schemas.upcast); the envelope stays as it
    was sent (its `dataversion` says which version that was)."""
    if not raw:
        raise PoisonMessage("empty message")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"not JSON: {exc}") from None
    try:
        envelope = Envelope.model_validate(doc)
    except ValidationError as exc:
        raise PoisonMessage(f"not a valid envelope: {_errors(exc)}") from None
    model = payload_model(envelope.type, envelope.dataversion)
    if model is None:
        raise PoisonMessage(f"unknown event type/version: {envelope.type} v{envelope.dataversion}")
    try:
        return envelope, upcast(model.model_validate(envelope.data))
    except ValidationError as exc:
        raise PoisonMessage(
            f"bad {envelope.type} v{envelope.dataversion} payload: {_errors(exc)}"
        ) from None


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )


def fresh_id() -> str:
    return str(uuid4())
