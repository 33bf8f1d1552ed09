"""The signature and binding checks in front of the projector (eventkit.signing,
eventkit.binding): the live worker and a rebuild refuse the same messages, so a rebuild never
folds in an event the worker refused."""

from collections.abc import Sequence
from typing import Protocol, TypeVar

import orjson

from eventkit import binding
from eventkit.codec import PoisonMessage
from eventkit.signing import Verifier


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
            verifier.check(message.topic, message.key, message.value, headers or ())
            binding.check_headers(headers)
            _check_attributes(message, headers)
        except PoisonMessage as exc:
            refused.append((message, exc.reason))
        else:
            good.append(message)
    return good, refused


def _check_attributes(message: Message, headers: Headers) -> None:
    # The projector parses the value later; what is not a JSON object it dead-letters itself.
    try:
        doc = orjson.loads(message.value or b"")
    except orjson.JSONDecodeError:
        return
    if isinstance(doc, dict):
        binding.check_attributes(message.key, headers, doc)
