"""Emitting the events of one kind of aggregate (a purchase, a ban, a creator's diamonds): the
envelope, caused by the event it reacts to if any, into the event store and the outbox, in the
caller's transaction (so the state change, the event and its publication commit together)."""

from dataclasses import dataclass

import asyncpg

from eventkit.codec import new_envelope
from eventkit.eventstore import append
from schemas.envelope import Envelope
from schemas.events.base import Payload


@dataclass(frozen=True)
class EventStreams:
    """The streams `<prefix>-<key>` of one kind of aggregate, emitted by `source` on `topic`
    (Kafka keys by stream id, so one aggregate's events stay in order)."""

    source: str
    topic: str
    prefix: str

    def aggregate_id(self, key: object) -> str:
        """The event stream of the aggregate `key` (the envelope's aggregate_id)."""
        return f"{self.prefix}-{key}"

    def envelope(
        self,
        key: object,
        version: int,
        payload: Payload,
        subject: str | None = None,
        *,
        cause: Envelope | None = None,
    ) -> Envelope:
        """Event `version` of the aggregate's stream. Its subject (whom it is about) defaults
        to the stream; a reaction to `cause` carries its correlation id and names it."""
        return new_envelope(
            self.source,
            payload,
            aggregate_id=self.aggregate_id(key),
            aggregate_version=version,
            subject=subject,
            correlation_id=cause.correlationid if cause else None,
            causation_id=cause.id if cause else None,
        )

    async def emit(
        self,
        conn: asyncpg.Connection,
        key: object,
        version: int,
        payload: Payload,
        subject: str | None = None,
        *,
        cause: Envelope | None = None,
    ) -> Envelope:
        """envelope(), appended in the caller's transaction; returns it."""
        event = self.envelope(key, version, payload, subject, cause=cause)
        await append(conn, self.topic, event)
        return event
