"""The signature and binding checks in front of the projector (eventkit.signing,
eventkit.binding): the live worker and a rebuild refuse the same messages, so a rebuild never
folds in an event the worker refused.

The binding's checks of the event's attributes (the key is the aggregateid; ce_* headers carry
the attributes' values) need the parsed document. They run on the envelope pydantic parses, the
same parse the projector then folds (signed_decoded hands it over), so a message's JSON is
parsed once; a value that is no valid envelope is checked on its raw JSON instead, so it is
refused for the binding exactly when it was before, and otherwise left for the projector to
dead-letter with the decoder's reason."""

from collections.abc import Sequence
from typing import Protocol, TypeVar

import orjson

from eventkit import binding
from eventkit.codec import PoisonMessage
from eventkit.signing import Verifier
from schemas.envelope import Envelope
from services.projections.projector import Incoming, parse_envelope


class Message(Protocol):  # Incoming, and aiokafka's ConsumerRecord
    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


M = TypeVar("M", bound=Message)
Headers = Sequence[tuple[str, bytes]] | None


def signed_only(
    verifier: Verifier, batch: Sequence[tuple[M, Headers]]
) -> tuple[list[M], list[tuple[M, str]]]:
    """(message, its headers) pairs -> the messages signed by their topic's owner and in our
    binding, in order, and the refused ones with the reason."""
    good: list[M] = []
    refused: list[tuple[M, str]] = []
    for message, headers in batch:
        try:
            _checked(verifier, message, headers)
        except PoisonMessage as exc:
            refused.append((message, exc.reason))
        else:
            good.append(message)
    return good, refused


def signed_decoded(
    verifier: Verifier, batch: Sequence[tuple[Incoming, Headers]]
) -> tuple[list[Incoming], list[tuple[Incoming, str]]]:
    """signed_only for the live worker: each good message carries the envelope parsed while
    checking it (Incoming.envelope), for the projector."""
    good: list[Incoming] = []
    refused: list[tuple[Incoming, str]] = []
    for message, headers in batch:
        try:
            envelope = _checked(verifier, message, headers)
        except PoisonMessage as exc:
            refused.append((message, exc.reason))
        else:
            m = message  # built by hand: dataclasses.replace is several times slower
            good.append(Incoming(m.value, m.key, m.topic, m.partition, m.offset, envelope))
    return good, refused


def _checked(verifier: Verifier, message: Message, headers: Headers) -> Envelope | None:
    """Raises PoisonMessage unless signed by the topic's owner and in our binding; returns the
    parsed envelope when the value is one."""
    verifier.check(message.topic, message.key, message.value, headers or ())
    binding.check_headers(headers)
    envelope = parse_envelope(message.value)
    if envelope is not None:
        binding.check_event(message.key, headers, envelope)
    else:
        _check_attributes(message, headers)
    return envelope


def _check_attributes(message: Message, headers: Headers) -> None:
    # The projector parses the value later; what is not a JSON object it dead-letters itself.
    try:
        doc = orjson.loads(message.value or b"")
    except orjson.JSONDecodeError:
        return
    if isinstance(doc, dict):
        binding.check_attributes(message.key, headers, doc)
